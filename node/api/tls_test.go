package api

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/proto/gen/normledger/v1/ledgersvc"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "normledger test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a server certificate for 127.0.0.1 (IP SAN) and its key
// into dir as PEM files, named after cn.
func (ca *testCA) issue(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// With a certificate and key, REST serves HTTPS (links say https, the
// server's own errors are still JSON, plain HTTP is told it reached an
// HTTPS port) and gRPC serves TLS; a renewed certificate is served
// without a restart.
func TestTLS(t *testing.T) {
	defer func(d time.Duration) { certCheckEvery = d }(certCheckEvery)
	certCheckEvery = 0
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, dir, "node")
	l := newTestLedger(t)
	s := startAPI(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile}, l.server(&fakeChain{}))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	base := "https://" + s.RESTAddr()
	if code, body := httpGet(t, hc, base+"/readyz"); code != 200 || !strings.Contains(body, "attested_height") {
		t.Fatalf("/readyz over TLS: %d %s", code, body)
	}
	code, body := httpGet(t, hc, base+"/v1/stix/bundle")
	if code != 200 || !strings.Contains(body, `"`+base+"/v1/records/") {
		t.Errorf("STIX over TLS: %d, no %s links", code, base)
	}
	// net/http's own errors (here: headers over the limit) are JSON over TLS too.
	conn, err := tls.Dial("tcp", s.RESTAddr(), &tls.Config{RootCAs: ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 40<<10) + "\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	bz := make([]byte, 4096)
	n, _ := resp.Body.Read(bz)
	conn.Close()
	if resp.StatusCode != 431 {
		t.Errorf("oversized headers over TLS: %d", resp.StatusCode)
	}
	wantError(t, "oversized headers over TLS", resp.Header, bz[:n], ledger.CodeTxTooLarge)
	// Plain HTTP to the HTTPS port.
	code, body = httpGet(t, nil, "http://"+s.RESTAddr()+"/readyz")
	if code != 400 || !strings.Contains(body, "HTTPS") {
		t.Errorf("plain HTTP to the HTTPS port: %d %s", code, body)
	}
	// gRPC over TLS; a plaintext client gets nowhere.
	cc := dialGRPC(t, s.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.pool})))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ledgersvc.NewLedgerServiceClient(cc).Status(ctx, &pb.StatusRequest{}); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
	plain := dialGRPC(t, s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
	defer pcancel()
	if _, err := ledgersvc.NewLedgerServiceClient(plain).Status(pctx, &pb.StatusRequest{}); err == nil {
		t.Error("a plaintext gRPC client was served by the TLS port")
	}
	// Renewal: new files in place are served to new connections.
	newCert, newKey := ca.issue(t, t.TempDir(), "renewed")
	for _, f := range [][2]string{{newCert, certFile}, {newKey, keyFile}} {
		bz, _ := os.ReadFile(f[0])
		if err := os.WriteFile(f[1], bz, 0o600); err != nil {
			t.Fatal(err)
		}
		future := time.Now().Add(time.Minute)
		os.Chtimes(f[1], future, future)
	}
	served := func() string {
		c, err := tls.Dial("tcp", s.RESTAddr(), &tls.Config{RootCAs: ca.pool})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "renewed" {
		t.Errorf("after renewal the server presents %q", cn)
	}
	// A broken renewal keeps the certificate in use.
	os.WriteFile(certFile, []byte("garbage"), 0o644)
	future := time.Now().Add(2 * time.Minute)
	os.Chtimes(certFile, future, future)
	if cn := served(); cn != "renewed" {
		t.Errorf("after a broken renewal the server presents %q", cn)
	}
}

// TLS files are checked at Start: both or neither, and a bad file is an
// error that names it.
func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, dir, "node")
	_, otherKey := ca.issue(t, dir, "other")
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not PEM at all"), 0o644)
	missing := filepath.Join(dir, "missing.pem")
	l := newTestLedger(t)
	for _, c := range []struct {
		what, cert, key, want string
	}{
		{"certificate without key", certFile, "", certFile},
		{"key without certificate", "", keyFile, keyFile},
		{"missing certificate", missing, keyFile, missing},
		{"missing key", certFile, missing, missing},
		{"certificate not PEM", garbage, keyFile, garbage},
		{"key in the certificate's place", keyFile, keyFile, keyFile},
		{"key not PEM", certFile, garbage, garbage},
		{"key of another certificate", certFile, otherKey, otherKey},
	} {
		s, err := Start(Config{RESTListen: "127.0.0.1:0", GRPCListen: "127.0.0.1:0", TLSCertFile: c.cert, TLSKeyFile: c.key}, l.server(&fakeChain{}))
		if err == nil {
			s.Stop(context.Background())
			t.Errorf("%s: started", c.what)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v does not name %s", c.what, err, c.want)
		}
	}
}

// With MetricsListen, /metrics (with /livez and /readyz) is served there
// and the REST port answers /metrics as any path it does not have.
func TestMetricsListen(t *testing.T) {
	l := newTestLedger(t)
	s := startAPI(t, Config{MetricsListen: "tcp://127.0.0.1:0"}, l.server(&fakeChain{}))
	if s.MetricsAddr() == "" {
		t.Fatal("no metrics listener")
	}
	rest, metrics := "http://"+s.RESTAddr(), "http://"+s.MetricsAddr()
	httpGet(t, nil, rest+"/v1/status") // counted on the metrics listener
	code, body := httpGet(t, nil, metrics+"/metrics")
	if code != 200 || !strings.Contains(body, "normledger_build_info{") ||
		!strings.Contains(body, `normledger_api_requests_total{method="GET",route="/v1/status",status="200"} 1`) {
		t.Errorf("metrics listener /metrics: %d\n%s", code, body)
	}
	for _, p := range []string{"/livez", "/readyz"} {
		if code, body := httpGet(t, nil, metrics+p); code != 200 {
			t.Errorf("metrics listener %s: %d %s", p, code, body)
		}
	}
	if code, _ := httpGet(t, nil, metrics+"/v1/status"); code != 404 {
		t.Errorf("metrics listener /v1/status: %d", code)
	}
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
		req, _ := http.NewRequest(method, rest+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		bz := make([]byte, 4096)
		n, _ := resp.Body.Read(bz)
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("REST %s /metrics: %d", method, resp.StatusCode)
		}
		if method == http.MethodGet {
			wantError(t, "REST GET /metrics", resp.Header, bz[:n], ledger.CodeNoRoute)
		}
	}
	// Without MetricsListen /metrics stays on the REST port.
	s2 := startAPI(t, Config{}, l.server(&fakeChain{}))
	if code, body := httpGet(t, nil, "http://"+s2.RESTAddr()+"/metrics"); code != 200 || !strings.Contains(body, "normledger_build_info{") {
		t.Errorf("REST /metrics without a metrics listener: %d", code)
	}
	if s2.MetricsAddr() != "" {
		t.Error("a metrics listener nobody asked for")
	}
}

// pipeListener hands out one end of a net.Pipe: a peer that writes but
// never reads blocks every write to it (no socket buffer takes them).
type pipeListener struct{ c chan net.Conn }

func (l pipeListener) Accept() (net.Conn, error) {
	c, ok := <-l.c
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l pipeListener) Close() error   { return nil }
func (l pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// The 400 answer to plain HTTP on the HTTPS port is written under a
// deadline: a client that sends a request and never reads the answer
// does not hold the connection (and its goroutine) for good.
func TestPlainHTTPAnswerDeadline(t *testing.T) {
	defer func(d time.Duration) { plainHTTPAnswerTimeout = d }(plainHTTPAnswerTimeout)
	plainHTTPAnswerTimeout = 200 * time.Millisecond
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, t.TempDir(), "node")
	cfg, err := loadTLS(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	defer client.Close()
	defer server.Close()
	conns := make(chan net.Conn, 1)
	conns <- server
	c, err := newTLSListener(pipeListener{conns}, cfg).Accept()
	if err != nil {
		t.Fatal(err)
	}
	go client.Write([]byte("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"))
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("plain HTTP read as TLS")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the 400 to a client that does not read it is still being written after 10 s")
	}
}
