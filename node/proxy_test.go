package node_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/node/api"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The shipped nginx configuration (deploy/nginx/normledger.conf), filled
// in and run in front of a node that trusts it, on loopback: two clients
// behind it are rate limited separately (and cannot buy a fresh bucket
// with an X-Forwarded-For of their own), the STIX export links to the
// proxy's https:// address, `normledger verify record` through it
// verifies, and /metrics (here still on the REST port) is not forwarded.
// Needs nginx (Debian: apt-get install nginx); skipped without
// it unless NORMLEDGER_REQUIRE_OPS=1.
func TestBehindNginx(t *testing.T) {
	nginx := findNginx(t)
	tmp := t.TempDir()
	caFile, certFile, keyFile, pool := writeProxyCerts(t, tmp)

	clk := &skipClock{}
	n, c, ms := startNode(t, api.Config{TrustedProxies: []string{"127.0.0.1"}, ReadRateLimit: 1, ReadRateBurst: 8, Now: clk.Now})
	// An incident disclosure: the STIX export carries it (with a link).
	now := time.Now().UTC()
	rec := fileAttested(t, c, &pb.Record{SchemaVersion: 1, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "XBB-PROXY", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
		Sectors: []pb.Sector{pb.Sector_SECTOR_WATER}, AffectedStates: []string{"xbb"},
		DetectedAt: timestamppb.New(now.Add(-2 * time.Hour)), AwareAt: timestamppb.New(now.Add(-time.Hour)),
		Impacts: []string{"Pumping station on manual control"}, Severity: pb.Severity_SEVERITY_HIGH, Summary: "Seen behind the proxy."}}}, ms["xbb"].Signer())

	listen, httpListen := freeAddr(t), freeAddr(t)
	startNginx(t, nginx, tmp, map[string]string{
		"@LISTEN@": listen, "@HTTP_LISTEN@": httpListen, "@SERVER_NAME@": "127.0.0.1",
		"@UPSTREAM@": n.RESTAddress(), "@CERT@": certFile, "@KEY@": keyFile,
	})
	proxy := "https://" + listen
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	}
	get := func(hc *http.Client, url string, hdr ...string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		bz, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, bz
	}

	t.Run("ready through the proxy; plain HTTP redirects", func(t *testing.T) {
		clk.Skip(time.Hour)
		if code, body := get(from("127.0.0.1"), proxy+"/readyz"); code != 200 || !bytes.Contains(body, []byte("attested_height")) {
			t.Fatalf("/readyz through nginx: %d %s", code, body)
		}
		resp, err := from("127.0.0.1").Get("http://" + httpListen + "/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || !strings.HasPrefix(resp.Header.Get("Location"), "https://127.0.0.1") {
			t.Errorf("plain HTTP: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("two clients are limited separately", func(t *testing.T) {
		clk.Skip(time.Hour) // every bucket full
		a, b := from("127.0.0.2"), from("127.0.0.3")
		limited := 0
		for i := 0; i < 40 && limited == 0; i++ {
			code, body := get(a, proxy+"/v1/status")
			switch code {
			case 200:
			case 429:
				limited = i
				if !bytes.Contains(body, []byte(`"codeName":"rate_limited"`)) {
					t.Errorf("429 without the node's JSON error: %s", body)
				}
			default:
				t.Fatalf("client A read %d: %d %s", i, code, body)
			}
		}
		if limited == 0 {
			t.Fatal("client A was never limited")
		}
		if limited < 8 {
			t.Fatalf("client A limited after %d reads (burst 8)", limited)
		}
		// A's own X-Forwarded-For buys no fresh bucket: nginx appends the
		// real address, and the node takes the rightmost untrusted hop.
		if code, body := get(a, proxy+"/v1/status", "X-Forwarded-For", "198.51.100.77"); code != 429 {
			t.Errorf("client A with a forged X-Forwarded-For: %d %s", code, body)
		}
		if code, body := get(b, proxy+"/v1/status"); code != 200 {
			t.Errorf("client B after A was limited: %d %s", code, body)
		}
		// A client that skips the proxy is keyed on its own address: it
		// cannot claim to be B either.
		direct := from("127.0.0.2")
		if code, _ := get(direct, "http://"+n.RESTAddress()+"/v1/status", "X-Forwarded-For", "127.0.0.3"); code != 429 {
			t.Errorf("client A direct, claiming B: %d", code)
		}
	})

	t.Run("STIX links are https to the proxy", func(t *testing.T) {
		clk.Skip(time.Hour)
		code, body := get(from("127.0.0.4"), proxy+"/v1/stix/bundle")
		want := proxy + "/v1/records/" + rec.ID + "?prove=true"
		if code != 200 || !bytes.Contains(body, []byte(`"`+want+`"`)) {
			t.Fatalf("%d: the bundle has no link %s:\n%.2000s", code, want, body)
		}
		if bytes.Contains(body, []byte(`"http://`)) {
			t.Errorf("the bundle still has http:// links")
		}
	})

	t.Run("metrics are not forwarded", func(t *testing.T) {
		clk.Skip(time.Hour)
		hc := from("127.0.0.5")
		if code, body := get(hc, proxy+"/metrics"); code != 404 || bytes.Contains(body, []byte("normledger_build_info")) {
			t.Errorf("/metrics through nginx: %d %.200s", code, body)
		}
		if code, body := get(hc, "http://"+n.RESTAddress()+"/metrics"); code != 200 || !bytes.Contains(body, []byte("normledger_build_info")) {
			t.Errorf("/metrics on the node's REST port: %d %.200s", code, body)
		}
	})

	t.Run("verify record through the proxy", func(t *testing.T) {
		clk.Skip(time.Hour)
		// The CLI's client trusts the system's roots; SSL_CERT_FILE makes
		// Go take the test CA as the only one (read once per process).
		t.Setenv("SSL_CERT_FILE", caFile)
		trustCA(t, pool, certFile)
		var out, errOut bytes.Buffer
		root := cli.NewRootCmd(&out, &errOut, strings.NewReader(""))
		// The light client wants a witness: the proxy again (a second
		// provider over the same door), so every request goes through it.
		root.SetArgs([]string{"verify", "record", rec.ID, "--node", proxy, "--witness", proxy,
			"--genesis", n.CometConfig().GenesisFile(), "--home", t.TempDir(), "-o", "json"})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := root.ExecuteContext(ctx)
		if err != nil || !strings.Contains(out.String(), `"verified": true`) {
			t.Fatalf("verify through nginx: exit %d %v\n%s\n%s", cli.ExitCode(err), err, out.String(), errOut.String())
		}
	})
}

// findNginx is nginx's path; without it the test skips, or fails under
// NORMLEDGER_REQUIRE_OPS=1 (CI, where the package is installed).
func findNginx(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx" // Debian's, when sbin is not on PATH
	}
	if os.Getenv("NORMLEDGER_REQUIRE_OPS") == "1" {
		t.Fatal("nginx is not installed (Debian: apt-get install nginx) and NORMLEDGER_REQUIRE_OPS=1")
	}
	t.Skip("nginx is not installed (Debian: apt-get install nginx); NORMLEDGER_REQUIRE_OPS=1 makes this a failure")
	return ""
}

var placeholder = regexp.MustCompile(`@[A-Z_]+@`)

// startNginx fills the shipped configuration with vals, checks it with
// nginx -t and runs nginx in the foreground with every path under dir,
// until the test ends (bounded: it is killed with the test process too).
func startNginx(t *testing.T, nginx, dir string, vals map[string]string) {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("..", "deploy", "nginx", "normledger.conf"))
	if err != nil {
		t.Fatal(err)
	}
	site := string(tmpl)
	for k, v := range vals {
		if !strings.Contains(site, k) {
			t.Fatalf("the shipped config has no placeholder %s", k)
		}
		site = strings.ReplaceAll(site, k, v)
	}
	if left := placeholder.FindAllString(site, -1); len(left) > 0 {
		t.Fatalf("placeholders the test does not fill: %v", left)
	}
	sitePath := filepath.Join(dir, "normledger.conf")
	if err := os.WriteFile(sitePath, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	// The main configuration stands in for Debian's /etc/nginx/nginx.conf,
	// which includes sites-enabled/* in its http block.
	var main strings.Builder
	if os.Geteuid() == 0 {
		// Workers would switch to an unprivileged user that cannot reach
		// the test's temporary directories.
		main.WriteString("user root;\n")
	}
	main.WriteString("worker_processes 1;\nevents { worker_connections 128; }\nhttp {\n")
	for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		p := filepath.Join(dir, d+"_temp")
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		main.WriteString("    " + d + "_temp_path " + p + ";\n")
	}
	main.WriteString("    access_log " + filepath.Join(dir, "access.log") + ";\n")
	main.WriteString("    include " + sitePath + ";\n}\n")
	mainPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainPath, []byte(main.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir, "-e", "stderr", "-c", mainPath,
		"-g", "daemon off; pid " + filepath.Join(dir, "nginx.pid") + "; error_log stderr notice;"}
	if out, err := exec.Command(nginx, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\n--- %s\n%s", err, out, sitePath, site)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, nginx, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	// Its own process group, so that its workers go with it; and a
	// SIGTERM if the test process dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("nginx:\n%s", stderr.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", vals["@LISTEN@"], time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited:\n%s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %s:\n%s", vals["@LISTEN@"], stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeProxyCerts makes a CA and a server certificate for 127.0.0.1 under
// dir; it returns the CA's, the certificate's and the key's files and the
// CA as a pool.
func writeProxyCerts(t *testing.T, dir string) (caFile, certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "normledger proxy test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	for path, b := range map[string]*pem.Block{caFile: {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return caFile, certFile, keyFile, pool
}

// trustCA makes sure the CLI's HTTP client (client.New: an http.Client
// on http.DefaultTransport, the system roots) trusts the test CA. Go
// reads SSL_CERT_FILE once per process, when something first needs the
// system roots; if that happened before the test set it, the default
// transport is given the CA for the rest of the test instead.
func trustCA(t *testing.T, pool *x509.CertPool, certFile string) {
	t.Helper()
	bz, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(bz)
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if sys, err := x509.SystemCertPool(); err == nil {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: sys}); err == nil {
			return
		}
	}
	t.Log("the system roots were read before SSL_CERT_FILE was set: giving http.DefaultTransport the test CA")
	orig := http.DefaultTransport
	tr := orig.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	http.DefaultTransport = tr
	t.Cleanup(func() { http.DefaultTransport = orig })
}
