package realtest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Renewal tests swap a server's files while clients keep connecting, and must show that
// no handshake failed and that later handshakes get the new certificate. HandshakeLoop
// and Hammer are those clients.

const (
	// loopPause is the pause between two handshakes of a HandshakeLoop: frequent
	// enough to catch a short window of failures, light enough for a shared CI machine.
	loopPause = 10 * time.Millisecond
	// loopTimeout bounds one handshake of a HandshakeLoop, dial to server line.
	loopTimeout = 10 * time.Second
	// loopLineWait is how long a HandshakeLoop handshake waits for the server's line.
	loopLineWait = 5 * time.Second
)

// HandshakeResult is one handshake of a HandshakeLoop.
type HandshakeResult struct {
	// At is when the attempt started.
	At time.Time
	// Fingerprint is the SHA-256 (lowercase hex) of the leaf certificate the server
	// presented, also when it did not verify; "" when none arrived.
	Fingerprint string
	// Line is the server's line after the handshake (see StartJSSEServer), "" when it
	// sent none.
	Line string
	// Err is nil when the handshake completed, the server's chain verified and the
	// server did not reject the connection afterwards.
	Err error
}

// HandshakeLoop runs Go crypto/tls handshakes against addr one after another, with a
// 10 ms pause between them, until ctx ends (or the test does), and sends one result per
// handshake on the returned channel, which is closed when the loop stops. A handshake
// in flight when ctx ends is dropped, not reported as a failure.
//
// Each handshake is a new connection without session resumption, so it sees the
// server's current certificate. The server's chain is verified against the
// certificates in caFile only, for host (a DNS name or an IP; empty means the host of
// addr, also used for SNI) and serverAuth. clientCert, when not nil, is presented to
// servers that ask for one. After the handshake the client reads the server's line for
// up to 5 s: a TLS 1.3 server rejects a client certificate only then; a server that
// closes or stays silent has accepted. An unreadable caFile fails the test.
//
// The loop blocks while nobody receives; Hammer collects the results for you.
func HandshakeLoop(ctx context.Context, t testing.TB, addr, caFile, host string, clientCert *tls.Certificate) <-chan HandshakeResult {
	t.Helper()
	pool := caPool(t, caFile)
	if host == "" {
		host, _ = splitAddr(t, addr)
	}
	ctx, cancel := context.WithCancel(ctx)
	results := make(chan HandshakeResult, 16)
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		defer close(results)
		pause := time.NewTimer(0)
		defer pause.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-pause.C:
			}
			r := handshakeOnce(ctx, addr, host, pool, clientCert)
			if ctx.Err() != nil {
				return
			}
			select {
			case results <- r:
			case <-ctx.Done():
				return
			}
			pause.Reset(loopPause)
		}
	}()
	return results
}

// caPool reads the certificates of a PEM file; a missing or empty file is a test bug.
func caPool(t testing.TB, caFile string) *x509.CertPool {
	t.Helper()
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("realtest: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("realtest: no certificates in %s", caFile)
	}
	return pool
}

func handshakeOnce(ctx context.Context, addr, host string, roots *x509.CertPool, clientCert *tls.Certificate) HandshakeResult {
	r := HandshakeResult{At: time.Now()}
	cfg := &tls.Config{
		ServerName: host, // crypto/tls sends no SNI for an IP
		// Verified in VerifyConnection instead, with the same checks as crypto/tls, so
		// the fingerprint of a certificate that fails them is recorded too.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			r.Fingerprint = fingerprint(leaf.Raw)
			intermediates := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				intermediates.AddCert(c)
			}
			_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, DNSName: host})
			return err
		},
	}
	if clientCert != nil {
		cfg.Certificates = []tls.Certificate{*clientCert}
	}
	ctx, cancel := context.WithTimeout(ctx, loopTimeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		r.Err = fmt.Errorf("go tls: %w", err)
		return r
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(loopLineWait)); err != nil {
		r.Err = fmt.Errorf("go tls: %w", err)
		return r
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	r.Line = strings.TrimSpace(line)
	var netErr net.Error
	if err != nil && !errors.Is(err, io.EOF) && !(errors.As(err, &netErr) && netErr.Timeout()) {
		r.Err = fmt.Errorf("go tls: %w", err)
	}
	return r
}

// Hammer is a HandshakeLoop running in the background, collecting its results.
type Hammer struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	report  HandshakeReport
	changed chan struct{} // closed and replaced on every result
}

// StartHammer starts a HandshakeLoop against addr (see HandshakeLoop for the
// arguments). Stop it with Stop; the test's end stops it too.
func StartHammer(t testing.TB, addr, caFile, host string, clientCert *tls.Certificate) *Hammer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hammer{cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	results := HandshakeLoop(ctx, t, addr, caFile, host, clientCert)
	go func() {
		defer close(h.done)
		for r := range results {
			h.mu.Lock()
			h.report.add(r)
			close(h.changed)
			h.changed = make(chan struct{})
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() { h.Stop() })
	return h
}

// Stop ends the loop and returns everything it saw. Calling it again returns the same.
func (h *Hammer) Stop() HandshakeReport {
	h.cancel()
	<-h.done
	return h.Report()
}

// Report returns what the loop has seen so far.
func (h *Hammer) Report() HandshakeReport {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.report
	r.Results = append([]HandshakeResult(nil), r.Results...)
	r.Failures = append([]HandshakeResult(nil), r.Failures...)
	r.Served = append([]string(nil), r.Served...)
	return r
}

// WaitServed waits until a handshake that finishes after the call succeeds with the
// certificate whose SHA-256 fingerprint (lowercase hex) is fp; it fails the test after
// timeout.
func (h *Hammer) WaitServed(t testing.TB, fp string, timeout time.Duration) {
	t.Helper()
	h.mu.Lock()
	seen := len(h.report.Results)
	h.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		results, changed := h.report.Results[seen:], h.changed
		seen = len(h.report.Results)
		h.mu.Unlock()
		for _, r := range results {
			if r.Err == nil && r.Fingerprint == fp {
				return
			}
		}
		select {
		case <-changed:
		case <-h.done:
			t.Fatalf("realtest: handshake loop stopped before %s was served: %v", fp, h.Report())
		case <-deadline.C:
			t.Fatalf("realtest: %s not served after %v: %v", fp, timeout, h.Report())
		}
	}
}

// WaitHandshakes waits until n more handshakes (successful or not) have finished than
// when it was called; it fails the test after timeout.
func (h *Hammer) WaitHandshakes(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	h.mu.Lock()
	want := len(h.report.Results) + n
	h.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		got, changed := len(h.report.Results), h.changed
		h.mu.Unlock()
		if got >= want {
			return
		}
		select {
		case <-changed:
		case <-h.done:
			t.Fatalf("realtest: handshake loop stopped after %d of %d handshakes: %v", got, want, h.Report())
		case <-deadline.C:
			t.Fatalf("realtest: %d of %d handshakes after %v: %v", got, want, timeout, h.Report())
		}
	}
}

// HandshakeReport sums up a HandshakeLoop.
type HandshakeReport struct {
	// Results holds every handshake in order.
	Results []HandshakeResult
	// OK counts the successful handshakes; Failures holds the others.
	OK       int
	Failures []HandshakeResult
	// Served is the sequence of leaf fingerprints successful handshakes got, with
	// consecutive repeats removed: [old new] for one clean rotation.
	Served []string
}

func (r *HandshakeReport) add(res HandshakeResult) {
	r.Results = append(r.Results, res)
	if res.Err != nil {
		r.Failures = append(r.Failures, res)
		return
	}
	r.OK++
	if len(r.Served) == 0 || r.Served[len(r.Served)-1] != res.Fingerprint {
		r.Served = append(r.Served, res.Fingerprint)
	}
}

// String summarizes the report for a test failure: counts, the served sequence and
// the first few failures.
func (r HandshakeReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d handshakes, %d ok, %d failed, served %v", len(r.Results), r.OK, len(r.Failures), shortFingerprints(r.Served))
	for i, f := range r.Failures {
		if i == 3 {
			fmt.Fprintf(&b, "; …")
			break
		}
		fmt.Fprintf(&b, "; at %s: %v", f.At.Format("15:04:05.000"), f.Err)
	}
	return b.String()
}

func shortFingerprints(fps []string) []string {
	out := make([]string, len(fps))
	for i, fp := range fps {
		out[i] = fp[:min(len(fp), 12)]
	}
	return out
}

// CertFileFingerprint returns the SHA-256 (lowercase hex) of the first certificate in
// a PEM file, as ServedFingerprint and HandshakeResult report it. A file without a
// certificate fails the test.
func CertFileFingerprint(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("realtest: %v", err)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			t.Fatalf("realtest: no CERTIFICATE block in %s", path)
			return ""
		}
		if block.Type == "CERTIFICATE" {
			return fingerprint(block.Bytes)
		}
	}
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
