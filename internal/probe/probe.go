// Package probe makes a TLS handshake with live Elasticsearch or OpenSearch nodes and
// reports what they serve: the certificate chain, the negotiated protocol and cipher
// suite, whether the CA is sent (Beats' ssl.ca_trusted_fingerprint needs it), the
// leaf's subject as OpenSearch's security plugin matches it, and whether the chain
// verifies to given CAs and names the host clients connect to.
//
// The handshake always completes with verification off, and the chain is verified
// afterwards with x509.Verify, so that an untrusted or expired chain is still shown.
// Go's crypto/tls follows the FIPS 140 module by itself: under GODEBUG=fips140=only a
// server that offers only non-approved suites fails the handshake, as a FIPS client would.
package probe

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/inspect"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/target"
)

// Defaults for Options.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultConcurrency = 8
)

// alertWait is how long to read after a TLS 1.3 handshake in which the server asked for
// a client certificate. In TLS 1.3 the server checks that certificate only after the
// client has finished its handshake, so a rejection arrives as an alert on the first
// read; a server that stays silent this long (an Elasticsearch transport port waits for
// the client to speak) has accepted it.
const alertWait = time.Second

// Options shape a probe. The zero value probes without verifying the chain.
type Options struct {
	// Roots are the trust anchors the chain must verify to; nil shows the chain as
	// "not verified".
	Roots *x509.CertPool
	// TrustFrom names where Roots came from, for messages (e.g. "ca.crt").
	TrustFrom string
	// Name is checked against the leaf instead of each target's host (and sent as SNI).
	Name string
	// SkipName checks the chain only, as transport verification_mode: certificate does.
	SkipName bool
	// ClientCertificate is presented when the server asks for one (the transport layer
	// always does); nil sends none.
	ClientCertificate *tls.Certificate
	// Timeout bounds connecting and the handshake of each target; 0 is DefaultTimeout.
	Timeout time.Duration
	// WarnDays: a certificate expiring within this many days is a warning.
	WarnDays int
	// Now is the time certificates are checked at; nil is time.Now.
	Now func() time.Time
	// Concurrency is how many targets are probed at once; 0 is DefaultConcurrency.
	Concurrency int
	// Engine is what the nodes run; "" is Elasticsearch. It decides the findings that
	// are one engine's (ca-not-sent serves Elastic's clients) and the settings fixes
	// name.
	Engine target.Target
}

// Severity grades a finding.
type Severity string

// The severities, in the words of monitoring plugins.
const (
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Status is a target's overall state: its worst finding.
type Status string

// The states.
const (
	OK             Status = "ok"
	StatusWarning  Status = "warning"
	StatusCritical Status = "critical"
)

// Finding is one thing wrong with a target.
type Finding struct {
	Severity Severity `json:"severity"`
	// ID is stable for scripts: connect-failed, handshake-failed, client-cert-rejected,
	// cert-unparsable, cert-expired, cert-not-yet-valid, cert-expiring, chain-untrusted,
	// chain-incomplete, name-mismatch, ca-not-sent.
	ID      string `json:"id"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Certificate describes one certificate the server sent.
type Certificate = inspect.CertReport

// The values of Result.Verification.
const (
	Verified    = "verified"
	NotVerified = "not verified"
	Failed      = "failed"
)

// Result is what one target served. It holds no secret.
type Result struct {
	Target   string        `json:"target"`  // as given
	Address  string        `json:"address"` // host:port dialled
	Engine   target.Target `json:"engine"`
	Status   Status        `json:"status"`
	Findings []Finding     `json:"findings"`

	Protocol    string `json:"protocol,omitempty"`     // e.g. TLSv1.3; empty when the handshake failed
	CipherSuite string `json:"cipher_suite,omitempty"` // e.g. TLS_AES_128_GCM_SHA256

	// Chain is what the server sent, leaf first; it is shown even when the handshake
	// failed after the server's certificate (a rejected client certificate).
	Chain []Certificate `json:"chain"`
	// Intermediates are the intermediate CAs in Chain (CA certificates after the leaf
	// that are not self-signed), in the order sent.
	Intermediates []Intermediate `json:"intermediates"`
	// ChainComplete reports whether Chain verifies to the given CAs with only the
	// certificates the server sent (a root need not be sent): false when it verifies
	// only thanks to an intermediate CA of the trust file, or not at all because the
	// issuer of its last certificate is missing; MissingIssuer then names that CA.
	// Nil when not judged: no CA given, or the chain fails for another reason.
	ChainComplete *bool  `json:"chain_complete,omitempty"`
	MissingIssuer string `json:"missing_issuer,omitempty"`
	// CASent reports that the chain holds a CA certificate; CAFingerprint is the
	// SHA-256 of the last one, the value of Beats' ssl.ca_trusted_fingerprint.
	CASent        bool   `json:"ca_sent"`
	CAFingerprint string `json:"ca_fingerprint,omitempty"`
	// SecurityDN is, on OpenSearch, the leaf's subject as the security plugin
	// compares it with plugins.security.nodes_dn and authcz.admin_dn (Java's RFC
	// 2253 form): the line to paste for a transport certificate.
	SecurityDN string `json:"security_dn,omitempty"`

	// Verification is Verified, Failed or NotVerified (no trust anchors given); empty
	// when no certificate arrived. VerifiedTo is the anchor's subject.
	Verification      string `json:"verification,omitempty"`
	VerificationError string `json:"verification_error,omitempty"`
	VerifiedTo        string `json:"verified_to,omitempty"`
	TrustFrom         string `json:"trust_from,omitempty"`

	// Name is the name checked against the leaf (empty with Options.SkipName);
	// NameMatches is nil when it was not checked.
	Name        string `json:"name,omitempty"`
	NameMatches *bool  `json:"name_matches,omitempty"`

	ClientCertRequested bool `json:"client_cert_requested"`
	ClientCertSent      bool `json:"client_cert_sent"`
}

// ClientCertificate pairs a chain (leaf first) with its private key for
// Options.ClientCertificate.
func ClientCertificate(chain []*x509.Certificate, key crypto.Signer) (*tls.Certificate, error) {
	if len(chain) == 0 {
		return nil, errors.New("no certificate")
	}
	if err := ca.KeyMatches(chain[0], key); err != nil {
		return nil, err
	}
	c := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, cert := range chain {
		c.Certificate = append(c.Certificate, cert.Raw)
	}
	return c, nil
}

// Probe probes every target, at most opts.Concurrency at a time, and returns one
// result per target in the order given.
func Probe(ctx context.Context, targets []Target, opts Options) []Result {
	limit := opts.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	results := make([]Result, len(targets))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = One(ctx, t, opts)
		})
	}
	wg.Wait()
	return results
}

// Worst is the worst status of results: what a monitoring check reports.
func Worst(results []Result) Status {
	worst := OK
	for _, r := range results {
		switch r.Status {
		case StatusCritical:
			return StatusCritical
		case StatusWarning:
			worst = StatusWarning
		}
	}
	return worst
}

// One probes a single target within opts.Timeout.
func One(ctx context.Context, t Target, opts Options) Result {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	engine := opts.Engine
	if engine == "" {
		engine = target.Elasticsearch
	}
	r := &Result{Target: t.Input, Address: t.Address(), Engine: engine, Findings: []Finding{}, Chain: []Certificate{}, Intermediates: []Intermediate{}, TrustFrom: opts.TrustFrom}
	if r.Target == "" {
		r.Target = r.Address
	}
	name := opts.Name
	if name == "" {
		name = t.Host
	}
	if !opts.SkipName {
		r.Name = name
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The callbacks run inside HandshakeContext, on this goroutine.
	var raw [][]byte
	cfg := &tls.Config{
		// Verification happens below, with x509.Verify, so an untrusted chain is shown.
		InsecureSkipVerify: true,
		ServerName:         name, // crypto/tls sends no SNI for an IP address
		VerifyPeerCertificate: func(certs [][]byte, _ [][]*x509.Certificate) error {
			raw = certs
			return nil
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			r.ClientCertRequested = true
			if opts.ClientCertificate == nil {
				return &tls.Certificate{}, nil
			}
			r.ClientCertSent = true
			return opts.ClientCertificate, nil
		},
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", r.Address)
	if err != nil {
		r.add(Critical, "connect-failed", "connect "+r.Address+": "+dialProblem(err, timeout), "check the host and port, that the node runs, and that no firewall drops the connection")
		r.Status = r.status()
		return *r
	}
	defer conn.Close()
	tconn := tls.Client(conn, cfg)
	err = tconn.HandshakeContext(ctx)
	if err == nil {
		state := tconn.ConnectionState()
		r.Protocol = versionName(state.Version)
		r.CipherSuite = tls.CipherSuiteName(state.CipherSuite)
		if state.Version == tls.VersionTLS13 && r.ClientCertRequested {
			err = readAlert(ctx, tconn)
		}
	}
	if err != nil {
		r.handshakeFailed(err, timeout)
	}
	r.checkChain(raw, opts, now())
	r.Status = r.status()
	return *r
}

// readAlert reads briefly after a TLS 1.3 handshake and returns the server's alert, if
// it sends one: its verdict on the client certificate.
func readAlert(ctx context.Context, c *tls.Conn) error {
	deadline := time.Now().Add(alertWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetReadDeadline(deadline)
	_, err := c.Read(make([]byte, 1))
	if isRemoteAlert(err) {
		return err
	}
	return nil // data, silence or a close: the server accepted the handshake
}

func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

func (r *Result) add(sev Severity, id, msg, fix string) {
	r.Findings = append(r.Findings, Finding{Severity: sev, ID: id, Message: msg, Fix: fix})
}

func (r *Result) status() Status {
	s := OK
	for _, f := range r.Findings {
		switch f.Severity {
		case Critical:
			return StatusCritical
		case Warning:
			s = StatusWarning
		}
	}
	return s
}

// handshakeFailed turns a handshake error into a finding that says what to look at.
func (r *Result) handshakeFailed(err error, timeout time.Duration) {
	var rh tls.RecordHeaderError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		r.add(Critical, "handshake-failed", fmt.Sprintf("TLS handshake with %s: no answer within %s", r.Address, timeout),
			"check that this port serves TLS ("+r.Engine.Product()+": 9200 HTTP, 9300 transport) or raise --timeout")
	case errors.As(err, &rh):
		msg := fmt.Sprintf("TLS handshake with %s: the server's answer is not TLS", r.Address)
		if strings.HasPrefix(string(rh.RecordHeader[:]), "HTTP/") {
			msg = fmt.Sprintf("TLS handshake with %s: the server answered in plain HTTP", r.Address)
		}
		r.add(Critical, "handshake-failed", msg, r.turnTLSOn())
	case isRemoteAlert(err) && r.ClientCertRequested && !r.ClientCertSent:
		r.add(Critical, "client-cert-rejected", fmt.Sprintf("TLS handshake with %s: the server requires a client certificate and none was given (%v)", r.Address, err),
			"give a certificate the server trusts: --cert and --key, or --p12 (the transport layer always requires one)")
	case isRemoteAlert(err) && r.ClientCertSent:
		r.add(Critical, "client-cert-rejected", fmt.Sprintf("TLS handshake with %s: the server refused the client certificate (%v)", r.Address, err),
			r.presentTrusted())
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		r.add(Critical, "handshake-failed", fmt.Sprintf("TLS handshake with %s: the server closed the connection (%v)", r.Address, err),
			"check that this port serves TLS, and the node's log for the reason it refused")
	default:
		r.add(Critical, "handshake-failed", fmt.Sprintf("TLS handshake with %s: %v", r.Address, err),
			"check the node's TLS settings and its log")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dialProblem says why a connection could not be made.
func dialProblem(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens on this port"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Sprintf("cannot resolve %s: %s", dns.Name, dns.Err)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err.Error()
	}
	return err.Error()
}

// checkChain parses what the server sent and checks trust, whether the chain is
// complete, dates (of every certificate sent, intermediates included, and of the
// anchor it verified to), name and whether the CA came along.
func (r *Result) checkChain(raw [][]byte, opts Options, now time.Time) {
	var chain []*x509.Certificate
	for i, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			r.add(Critical, "cert-unparsable", fmt.Sprintf("certificate %d the server sent does not parse: %v", i, err),
				"replace the node's certificate with one escert issued")
			return
		}
		chain = append(chain, c)
		r.Chain = append(r.Chain, inspect.Describe(c, now))
	}
	if len(chain) == 0 {
		return
	}
	leaf := chain[0]
	r.Intermediates = intermediates(chain, now)
	checked := append([]*x509.Certificate{}, chain...)
	if opts.Roots == nil {
		r.Verification = NotVerified
	} else if verified, err := nodetls.Verify(chain, opts.Roots, []nodetls.Role{nodetls.Server}, now); err != nil {
		r.Verification, r.VerificationError = Failed, err.Error()
		r.add(Critical, "chain-untrusted", fmt.Sprintf("the chain of %q does not verify to %s: %v", ca.FormatDN(leaf.RawSubject), trustName(opts), err),
			"give the CA that issued the node's certificate (--ca), or serve a certificate from the CA clients trust, with any intermediate CA after the leaf")
	} else {
		anchor := verified[len(verified)-1]
		r.Verification, r.VerifiedTo = Verified, ca.FormatDN(anchor.RawSubject)
		if !contains(chain, anchor) {
			checked = append(checked, anchor)
		}
	}
	if opts.Roots != nil {
		r.judgeServedChain(chain, opts, now)
	}
	window := expiry.Days(opts.WarnDays)
	for _, c := range checked {
		if j := window.Judge(c, now); j.Verdict != expiry.OK {
			sev := Warning
			if j.Broken() {
				sev = Critical
			}
			r.add(sev, j.ID, j.Message, j.Fix)
		}
	}
	if !opts.SkipName {
		err := leaf.VerifyHostname(r.Name)
		matches := err == nil
		r.NameMatches = &matches
		if !matches {
			r.add(Critical, "name-mismatch", fmt.Sprintf("the certificate %q does not name %s: it names %s", ca.FormatDN(leaf.RawSubject), r.Name, names(leaf)),
				"connect with a name the certificate has (--name), or reissue it with this name (escert cert, instances.yml dns/ip)")
		}
	}
	for _, c := range chain[1:] {
		if c.IsCA && c.BasicConstraintsValid {
			r.CASent, r.CAFingerprint = true, ca.Fingerprint(c)
		}
	}
	if leaf.IsCA && len(chain) == 1 {
		r.CASent, r.CAFingerprint = true, ca.Fingerprint(leaf)
	}
	if r.Engine == target.OpenSearch {
		r.SecurityDN = ca.FormatDNAsJava(leaf.RawSubject)
	}
	// Only Elastic's clients pin a CA by fingerprint; OpenSearch's read a CA file.
	if !r.CASent && r.Engine == target.Elasticsearch {
		r.add(Warning, "ca-not-sent", "the server sends its own certificate without its CA: Beats' and Elastic Agent's ssl.ca_trusted_fingerprint cannot match",
			"serve the chain leaf + CA: a p12 key entry with the CA in its chain, or the CA appended to the PEM certificate file (escert's node bundles do both)")
	}
}

// turnTLSOn is the fix for a port that answered without TLS, in the engine's settings.
func (r *Result) turnTLSOn() string {
	if r.Engine == target.OpenSearch {
		return "turn TLS on for the HTTP layer (plugins.security.ssl.http.enabled: true; the security plugin's transport layer is always TLS) or probe the TLS port"
	}
	return "turn TLS on for this layer (xpack.security.http.ssl.enabled / xpack.security.transport.ssl.enabled: true) or probe the TLS port"
}

// presentTrusted is the fix for a refused client certificate.
func (r *Result) presentTrusted() string {
	if r.Engine == target.OpenSearch {
		return "present a certificate from the CA the server trusts for this layer (plugins.security.ssl.*.pemtrustedcas_filepath)"
	}
	return "present a certificate from the CA the server trusts for this layer; on the transport layer it must also match the trust restrictions (a node certificate)"
}

func trustName(opts Options) string {
	if opts.TrustFrom != "" {
		return opts.TrustFrom
	}
	return "the given CAs"
}

func contains(chain []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range chain {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// names lists a leaf's DNS and IP names, the ones host name verification looks at.
func names(c *x509.Certificate) string {
	var out []string
	for _, n := range c.DNSNames {
		out = append(out, "DNS "+n)
	}
	for _, ip := range c.IPAddresses {
		out = append(out, "IP "+ip.String())
	}
	if len(out) == 0 {
		return "no DNS or IP name"
	}
	return strings.Join(out, ", ")
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1.0"
	}
	return tls.VersionName(v)
}
