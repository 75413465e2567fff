package realtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// connectJS and connectPy are the Node and Python clients; see their headers.
var (
	//go:embed scripts/connect.js
	connectJS []byte
	//go:embed scripts/connect.py
	connectPy []byte
)

// NodeTLSConnect connects to addr with Node's tls.connect({host, port, ca: [caFile],
// servername: serverName, rejectUnauthorized: true}) as Kibana does, reads the server's
// line, and returns nil when the handshake verifies, else Node's error ("CODE: message").
// An empty serverName verifies the host of addr. An IP serverName is checked against the
// IP SANs and not sent as SNI (RFC 6066 forbids it). Node uses OpenSSL without strict
// checks, like Kibana.
func NodeTLSConnect(t testing.TB, addr, caFile, serverName string) error {
	t.Helper()
	node := Require(t, "node")
	host, port := splitAddr(t, addr)
	script := writeFile(t, "connect.js", connectJS)
	res, err := run(node, []string{script, host, port, absPath(t, caFile), serverName,
		strconv.FormatInt(lineWait.Milliseconds(), 10)}, nil)
	if err != nil {
		return err
	}
	return clientError(t, "node tls.connect", res)
}

// PythonStrictConnect connects to addr with Python's ssl module in strict mode:
// ssl.create_default_context(cafile=caFile) with VERIFY_X509_STRICT set,
// VERIFY_X509_PARTIAL_CHAIN cleared and check_hostname on (Python 3.13's defaults),
// server_hostname=host (a DNS name or an IP string; empty means the host of addr). It
// returns nil when the handshake verifies, else Python's error. Strict mode rejects,
// for example, a CA without key usage or a certificate without authority key identifier.
func PythonStrictConnect(t testing.TB, addr, caFile, host string) error {
	t.Helper()
	python := pythonInterpreter(t)
	connectHost, port := splitAddr(t, addr)
	script := writeFile(t, "connect.py", connectPy)
	res, err := run(python, []string{"-I", script, connectHost, port, absPath(t, caFile), host,
		strconv.FormatFloat(lineWait.Seconds(), 'f', -1, 64)}, nil)
	if err != nil {
		return err
	}
	return clientError(t, "python ssl", res)
}

// pythonExe caches the interpreter behind python3.
var pythonExe struct {
	once sync.Once
	path string
}

// pythonInterpreter returns the real interpreter behind python3 on PATH. Version
// managers such as pyenv put a shell-script shim there that costs 0.2 s per start;
// asking the interpreter for sys.executable once skips it for every later run.
func pythonInterpreter(t testing.TB) string {
	t.Helper()
	shim := Require(t, "python3")
	pythonExe.once.Do(func() {
		pythonExe.path = shim
		res, err := run(shim, []string{"-c", "import sys; print(sys.executable)"}, nil)
		if p := strings.TrimSpace(res.stdout); err == nil && res.code == 0 && filepath.IsAbs(p) {
			pythonExe.path = p
		}
	})
	return pythonExe.path
}

// GoTLSConnect connects to addr with crypto/tls (RootCAs from caFile only, ServerName
// host; empty means the host of addr), reads the server's line as the other clients do,
// and returns nil when the handshake verifies, else Go's error. An unreadable caFile or
// one without certificates gives an error wrapping ErrLoad.
func GoTLSConnect(t testing.TB, addr, caFile, host string) error {
	t.Helper()
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("go tls: %w: %v", ErrLoad, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return fmt.Errorf("go tls: %w: no certificates in %s", ErrLoad, caFile)
	}
	if host == "" {
		host, _ = splitAddr(t, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	d := tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 10 * time.Second},
		Config:    &tls.Config{RootCAs: pool, ServerName: host},
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("go tls: %w", err)
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(lineWait)); err != nil {
		return fmt.Errorf("go tls: %w", err)
	}
	// A TLS 1.3 server rejects only after our handshake finished: read for its alert.
	_, err = bufio.NewReader(conn).ReadString('\n')
	var netErr net.Error
	if err != nil && !errors.Is(err, io.EOF) && !(errors.As(err, &netErr) && netErr.Timeout()) {
		return fmt.Errorf("go tls: %w", err)
	}
	return nil
}

// splitAddr splits "host:port"; a malformed address is a test bug.
func splitAddr(t testing.TB, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("realtest: bad address %q: %v", addr, err)
	}
	return host, port
}
