package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/normledger/normledger/ledger"
)

// Native TLS: with Config.TLSCertFile and TLSKeyFile both set, REST
// serves HTTPS and gRPC serves TLS on their listeners, from one
// certificate. The files are read at Start (a bad one is an error naming
// it) and read again when they change on disk (checked at most every
// certCheckEvery), so a renewed certificate needs no restart; a renewal
// that does not load is logged and the certificate in use is kept.

// certCheckEvery bounds how often a handshake looks at the files.
var certCheckEvery = 10 * time.Second

type certFiles struct {
	certFile, keyFile string
	log               *slog.Logger
	mu                sync.Mutex
	cert              *tls.Certificate
	certStat, keyStat fileStamp
	checked           time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// loadTLS returns the servers' TLS configuration, or nil when neither
// file is set.
func loadTLS(certFile, keyFile string, log *slog.Logger) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "":
		return nil, fmt.Errorf("api tls: a key file (%s) without a certificate file: set both or neither", keyFile)
	case keyFile == "":
		return nil, fmt.Errorf("api tls: a certificate file (%s) without a key file: set both or neither", certFile)
	}
	cf := &certFiles{certFile: certFile, keyFile: keyFile, log: log}
	if err := cf.load(); err != nil {
		return nil, err
	}
	cf.checked = time.Now()
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return cf.get(), nil
		},
	}, nil
}

// load reads both files, naming the one at fault.
func (cf *certFiles) load() error {
	cs, err := stamp(cf.certFile)
	if err != nil {
		return fmt.Errorf("api tls: certificate file: %w", err)
	}
	ks, err := stamp(cf.keyFile)
	if err != nil {
		return fmt.Errorf("api tls: key file: %w", err)
	}
	certPEM, err := os.ReadFile(cf.certFile)
	if err != nil {
		return fmt.Errorf("api tls: certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(cf.keyFile)
	if err != nil {
		return fmt.Errorf("api tls: key file: %w", err)
	}
	if err := checkCertPEM(certPEM); err != nil {
		return fmt.Errorf("api tls: certificate file %s: %w", cf.certFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("api tls: key file %s (for certificate %s): %w", cf.keyFile, cf.certFile, err)
	}
	cf.mu.Lock()
	cf.cert, cf.certStat, cf.keyStat = &cert, cs, ks
	cf.mu.Unlock()
	return nil
}

// checkCertPEM checks that a certificate file holds PEM certificates only
// and that they parse.
func checkCertPEM(bz []byte) error {
	n := 0
	for {
		var b *pem.Block
		b, bz = pem.Decode(bz)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a %q PEM block; want certificates only (is it the key?)", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %w", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no PEM certificate in it")
	}
	if len(bytes.TrimSpace(bz)) > 0 {
		return errors.New("text after the last PEM certificate that is not PEM")
	}
	return nil
}

// get is the certificate to present, read again if its files changed.
func (cf *certFiles) get() *tls.Certificate {
	cf.mu.Lock()
	due := time.Since(cf.checked) >= certCheckEvery
	if due {
		cf.checked = time.Now()
	}
	cert, cst, kst := cf.cert, cf.certStat, cf.keyStat
	cf.mu.Unlock()
	if due {
		cs, err1 := stamp(cf.certFile)
		ks, err2 := stamp(cf.keyFile)
		if err1 == nil && err2 == nil && (cs != cst || ks != kst) {
			if err := cf.load(); err != nil {
				cf.log.Warn("TLS certificate changed on disk but does not load; keeping the one in use", "err", err)
			} else {
				cf.log.Info("TLS certificate reloaded", "cert", cf.certFile)
				cf.mu.Lock()
				cert = cf.cert
				cf.mu.Unlock()
			}
		}
	}
	return cert
}

// tlsListener serves TLS on a REST listener. Its connections are not
// *tls.Conn to net/http (they pass through jsonErrorsConn, so that the
// server's own plain-text errors are JSON over HTTPS too): restTLSState
// gives handlers the TLS state net/http would have set, and HTTP/2 is not
// offered (REST speaks HTTP/1.1; gRPC has its own port).
type tlsListener struct {
	net.Listener
	cfg *tls.Config
}

func newTLSListener(ln net.Listener, cfg *tls.Config) net.Listener {
	c := cfg.Clone()
	c.NextProtos = []string{"http/1.1"}
	return tlsListener{ln, c}
}

func (l tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsServerConn{Conn: tls.Server(c, l.cfg)}, nil
}

// tlsHandshakeTimeout bounds the write side of a handshake; its read
// side runs under the server's header read deadline.
const tlsHandshakeTimeout = 10 * time.Second

// plainHTTPAnswerTimeout bounds writing the 400 to a plain HTTP request
// on the HTTPS port (a few hundred bytes).
var plainHTTPAnswerTimeout = 2 * time.Second

type tlsServerConn struct {
	*tls.Conn
	once  sync.Once
	hsErr error
}

func (c *tlsServerConn) Read(p []byte) (int, error) {
	c.once.Do(func() {
		c.Conn.SetWriteDeadline(time.Now().Add(tlsHandshakeTimeout))
		c.hsErr = c.Conn.Handshake()
		c.Conn.SetWriteDeadline(time.Time{})
		var re tls.RecordHeaderError
		if errors.As(c.hsErr, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			// Plain HTTP to the HTTPS port: say so, as net/http does, in
			// the API's error shape.
			rec := &headerRecorder{h: http.Header{}}
			writeError(rec, http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat,
				"this port speaks HTTPS: a plain HTTP request was sent to it")
			// Under a deadline of its own: a client that does not read
			// it must not hold the connection.
			re.Conn.SetWriteDeadline(time.Now().Add(plainHTTPAnswerTimeout))
			fmt.Fprintf(re.Conn, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
				len(rec.body), rec.body)
			re.Conn.Close()
		}
	})
	if c.hsErr != nil {
		return 0, c.hsErr
	}
	return c.Conn.Read(p)
}

func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH":
		return true
	}
	return false
}

type tlsConnKey struct{}

// restConnContext remembers a connection's TLS side for restTLSState.
func restConnContext(ctx context.Context, c net.Conn) context.Context {
	if jc, ok := c.(*jsonErrorsConn); ok {
		c = jc.Conn
	}
	if tc, ok := c.(*tlsServerConn); ok {
		return context.WithValue(ctx, tlsConnKey{}, tc.Conn)
	}
	return ctx
}

// restTLSState sets r.TLS on requests that came over a tlsListener.
func restTLSState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tc, ok := r.Context().Value(tlsConnKey{}).(*tls.Conn); ok && r.TLS == nil {
			st := tc.ConnectionState()
			r2 := *r
			r2.TLS = &st
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}
