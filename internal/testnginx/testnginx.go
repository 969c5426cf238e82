// Package testnginx starts a real nginx on loopback for the HTTP/2
// tests: one listener speaking HTTP/1.1 and h2 over TLS (ALPN), one
// speaking h2c by prior knowledge, each answering every request with the
// protocol it was served in. Debian's nginx-light is enough; .ci/run
// installs it, and under CI a missing nginx fails the test instead of
// skipping it.
package testnginx

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running nginx.
type Server struct {
	// TLS is https://127.0.0.1:port (HTTP/1.1 and h2 by ALPN); H2C is
	// http://127.0.0.1:port (h2c only).
	TLS, H2C string
	// CAFile is the PEM certificate the TLS listener presents (self-signed,
	// for 127.0.0.1): trust it to reach TLS.
	CAFile string
}

// Start starts nginx for the test and stops it at the test's end.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nginx is not installed: .ci/run installs nginx-light, and CI runs the HTTP/2 tests against it")
		}
		t.Skip("nginx is not installed (apt-get install nginx-light)")
	}
	dir := t.TempDir()
	cert, key := selfSigned(t)
	s := &Server{CAFile: filepath.Join(dir, "cert.pem")}
	write(t, s.CAFile, cert)
	write(t, filepath.Join(dir, "key.pem"), key)
	tlsPort, h2cPort := freePort(t), freePort(t)
	s.TLS, s.H2C = fmt.Sprintf("https://127.0.0.1:%d", tlsPort), fmt.Sprintf("http://127.0.0.1:%d", h2cPort)
	answer := `add_header X-Protocol $server_protocol always; add_header X-Connection $connection always; default_type application/json; return 200 '{"protocol":"$server_protocol","uri":"$request_uri"}';`
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen 127.0.0.1:%[2]d ssl http2;
		ssl_certificate %[1]s/cert.pem;
		ssl_certificate_key %[1]s/key.pem;
		location / { %[4]s }
	}
	server {
		listen 127.0.0.1:%[3]d http2;
		location / { %[4]s }
	}
}
`, dir, tlsPort, h2cPort, answer)
	write(t, filepath.Join(dir, "nginx.conf"), []byte(conf))
	var logs strings.Builder
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for _, port := range []int{tlsPort, h2cPort} {
		ok := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
				c.Close()
				ok = true
				break
			}
		}
		if !ok {
			t.Fatalf("nginx did not listen on 127.0.0.1:%d within 10 s:\n%s", port, logs.String())
		}
	}
	return s
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSigned is a certificate for 127.0.0.1 and its key, in PEM.
func selfSigned(t testing.TB) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bestbefore test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
