// Package posture checks a running cluster against the parts of Elastic's "secure your
// cluster" checklist that no file settles: unauthenticated and anonymous requests,
// elastic still answering to the bootstrap password, TLS below 1.2 accepted on either
// layer, what each node serves against what it says it loaded (_ssl/certificates),
// its chain and names as clients reach it, and audit logging. Its findings are
// check.Finding values with the offline check's IDs where the question is the same,
// so one allow-list and one exit-code rule serve both.
package posture

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/escert/escert/internal/check"
	"github.com/escert/escert/internal/esapi"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/probe"
)

// Finding IDs only the live check reports.
const (
	IDUnauthenticated = "unauthenticated-access"
	IDBootstrap       = "bootstrap-password-in-use"
	IDNotLoaded       = "served-not-loaded"
	IDOldNotTested    = "tls-old-protocol-not-tested"
)

// IDs shared with the offline check (internal/check), for the same question asked of
// the running node.
const (
	IDAnonymous   = "anonymous-access"
	IDOldProtocol = "tls-old-protocol"
	IDAudit       = "audit-disabled"
)

// Options say what to check with.
type Options struct {
	// Client reaches the node given on the command line; the other nodes are found
	// through it (_nodes) and reached at their publish addresses.
	Client *esapi.Client
	// Roots are the CAs the HTTP chains must verify to (the bundle's HTTP CA);
	// TrustFrom names them for messages.
	Roots     *x509.CertPool
	TrustFrom string
	// Auth is a user that may read _nodes and _ssl/certificates (elastic).
	Auth *esapi.Auth
	// Bootstrap is the bootstrap password, tested against elastic; nil skips that.
	Bootstrap []byte
	// BootstrapFix is the fix printed when elastic still accepts it.
	BootstrapFix string
	WarnDays     int
	Now          func() time.Time
	Timeout      time.Duration
}

// Check asks the cluster and returns the findings, problems first. An error means
// the cluster could not be checked (unreachable, Auth refused).
func Check(ctx context.Context, opts Options) ([]check.Finding, error) {
	c := opts.Client
	var findings []check.Finding
	add := func(sev check.Severity, id, node, setting, msg, fix string) {
		findings = append(findings, check.Finding{Severity: sev, ID: id, Node: node, Setting: setting, Message: msg, Fix: fix})
	}

	anonymous, err := unauthenticated(ctx, c)
	if err != nil {
		return nil, err
	}
	if anonymous != nil {
		add(anonymous.Severity, anonymous.ID, "", anonymous.Setting, anonymous.Message, anonymous.Fix)
	}
	if opts.Auth == nil {
		return nil, errors.New("no credentials to read the nodes with")
	}
	if ok, err := c.Authenticates(ctx, opts.Auth); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%s: %s: %w", c.URL(), opts.Auth.User, esapi.ErrUnauthorized)
	}
	if opts.Bootstrap != nil {
		ok, err := c.Authenticates(ctx, &esapi.Auth{User: "elastic", Password: opts.Bootstrap})
		if err != nil {
			return nil, err
		}
		if ok {
			add(check.Problem, IDBootstrap, "", "bootstrap.password",
				"elastic still signs in with the bootstrap password, which every node's elasticsearch.keystore holds",
				opts.BootstrapFix)
		}
	}

	nodes, err := readNodes(ctx, c, opts.Auth)
	if err != nil {
		return nil, err
	}
	per := make([][]check.Finding, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			per[i] = checkNode(ctx, n, opts)
		}()
	}
	wg.Wait()
	return check.Merge(append(per, findings)...), nil
}

// unauthenticated asks who a request without credentials is: Elasticsearch answers
// 401, unless an anonymous user is configured or security is off.
func unauthenticated(ctx context.Context, c *esapi.Client) (*check.Finding, error) {
	resp, err := c.Send(ctx, http.MethodGet, "_security/_authenticate", nil, nil)
	if err != nil {
		return nil, err
	}
	if resp.Status == http.StatusUnauthorized {
		return nil, nil
	}
	var who struct {
		Username string   `json:"username"`
		Roles    []string `json:"roles"`
		Realm    struct {
			Type string `json:"type"`
		} `json:"authentication_realm"`
	}
	if resp.Status == http.StatusOK && json.Unmarshal(resp.Body, &who) == nil && who.Realm.Type == "__anonymous" {
		return &check.Finding{Severity: check.Problem, ID: IDAnonymous, Setting: "xpack.security.authc.anonymous.roles",
			Message: fmt.Sprintf("a request without credentials is served as the anonymous user %q with roles %s", who.Username, strings.Join(who.Roles, ", ")),
			Fix:     "remove xpack.security.authc.anonymous.* from elasticsearch.yml on every node and restart them"}, nil
	}
	return &check.Finding{Severity: check.Problem, ID: IDUnauthenticated,
		Message: fmt.Sprintf("GET _security/_authenticate without credentials answered HTTP %d, not 401: %s", resp.Status, resp.Reason()),
		Fix:     "turn security on (xpack.security.enabled: true) and make sure nothing in front of the node adds credentials"}, nil
}

// node is one node as _nodes describes it.
type node struct {
	name, id string
	// httpHost is the name clients reach it by (the publish host, else the IP);
	// httpAddr and transportAddr are dialled.
	httpHost, httpAddr, transportAddr string
	audit                             string
}

type publishInfo struct {
	PublishAddress string `json:"publish_address"`
}

func readNodes(ctx context.Context, c *esapi.Client, auth *esapi.Auth) ([]node, error) {
	var info struct {
		Nodes map[string]struct {
			Name      string         `json:"name"`
			HTTP      publishInfo    `json:"http"`
			Transport publishInfo    `json:"transport"`
			Settings  map[string]any `json:"settings"`
		} `json:"nodes"`
	}
	// filter_path takes a flat setting's name as one key, so only a wildcard on its
	// first part matches it.
	path := "_nodes/http,transport,settings?flat_settings=true&filter_path=nodes.*.name,nodes.*.http.publish_address,nodes.*.transport.publish_address,nodes.*.settings.xpack*"
	if err := c.Do(ctx, http.MethodGet, path, auth, nil, &info); err != nil {
		return nil, err
	}
	var nodes []node
	for id, n := range info.Nodes {
		host, addr := publish(n.HTTP.PublishAddress)
		_, taddr := publish(n.Transport.PublishAddress)
		audit, _ := n.Settings["xpack.security.audit.enabled"].(string)
		nodes = append(nodes, node{name: n.Name, id: id, httpHost: host, httpAddr: addr, transportAddr: taddr, audit: audit})
	}
	slices.SortFunc(nodes, func(a, b node) int { return strings.Compare(a.name, b.name) })
	return nodes, nil
}

// publish reads a publish_address: "host/ip:port" when the node publishes a host
// name, else "ip:port". It returns the name to check and the address to dial.
func publish(s string) (name, addr string) {
	host, addr, ok := strings.Cut(s, "/")
	if !ok {
		addr = s
	}
	if !ok || host == "" {
		h, _, _ := net.SplitHostPort(addr)
		host = h
	}
	return host, addr
}

// checkNode probes one node's two ports and compares what it serves with what it
// says it loaded.
func checkNode(ctx context.Context, n node, opts Options) []check.Finding {
	var out []check.Finding
	add := func(sev check.Severity, id, setting, msg, fix string) {
		out = append(out, check.Finding{Severity: sev, ID: id, Node: n.name, Setting: setting, Message: msg, Fix: fix})
	}
	if n.audit != "true" {
		add(check.Warning, IDAudit, "xpack.security.audit.enabled", "audit logging is off on the running node",
			"set xpack.security.audit.enabled: true (a subscription feature) and restart the node")
	}
	popts := probe.Options{Roots: opts.Roots, TrustFrom: opts.TrustFrom, Name: n.httpHost, Timeout: opts.Timeout, WarnDays: opts.WarnDays, Now: opts.Now}
	served := map[string]*probe.Result{}
	for _, layer := range []struct {
		name, addr string
		opts       probe.Options
		// keep says which probe findings count on this layer: the transport layer
		// wants a client certificate and trusts its own CA, neither known here.
		keep func(id string) bool
	}{
		{"http", n.httpAddr, popts, func(string) bool { return true }},
		{"transport", n.transportAddr, probe.Options{SkipName: true, Timeout: opts.Timeout, WarnDays: opts.WarnDays, Now: opts.Now}, isExpiryID},
	} {
		if layer.addr == "" {
			continue
		}
		host, port, _ := net.SplitHostPort(layer.addr)
		r := probe.One(ctx, probe.Target{Input: layer.addr, Host: host, Port: port}, layer.opts)
		served[layer.name] = &r
		for _, f := range r.Findings {
			if !layer.keep(f.ID) {
				continue
			}
			sev := check.Warning
			if f.Severity == probe.Critical {
				sev = check.Problem
			}
			add(sev, f.ID, "", fmt.Sprintf("%s %s: %s", layer.name, layer.addr, f.Message), f.Fix)
		}
		switch accepted, err := acceptsOldTLS(ctx, layer.addr, opts.Timeout); {
		case errors.Is(err, errNoOldTLS):
			add(check.Warning, IDOldNotTested, "", fmt.Sprintf("%s %s: %v", layer.name, layer.addr, err), "run the live check with a non-FIPS escert to test it")
		case accepted != 0:
			add(check.Problem, IDOldProtocol, "xpack.security."+layer.name+".ssl.supported_protocols",
				fmt.Sprintf("%s %s completed a %s handshake", layer.name, layer.addr, tls.VersionName(accepted)),
				"remove TLSv1.1, TLSv1 and SSLv3 from supported_protocols (Elasticsearch's default is TLSv1.3,TLSv1.2) and restart the node")
		}
	}
	out = append(out, notLoaded(ctx, n, opts, served)...)
	return out
}

func isExpiryID(id string) bool {
	return id == expiry.IDExpired || id == expiry.IDExpiring || id == expiry.IDNotYetValid || id == "cert-unparsable"
}

// errNoOldTLS: this process cannot offer TLS below 1.2 (Go's FIPS 140 mode).
var errNoOldTLS = errors.New("this escert runs in a FIPS 140 mode, whose TLS offers nothing below 1.2, so whether the node accepts TLS 1.0 or 1.1 was not tested")

// acceptsOldTLS offers TLS 1.0 and 1.1 only and returns the version the server agreed
// to, 0 when it refused. A server that agrees shows its certificate before it would
// ask for a client certificate, so the transport port's refusal of a missing client
// certificate does not hide its choice of protocol.
func acceptsOldTLS(ctx context.Context, addr string, timeout time.Duration) (uint16, error) {
	if timeout <= 0 {
		timeout = probe.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var agreed uint16
	cfg := &tls.Config{
		// Only the protocol is in question; the chain is probe's.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS10,
		MaxVersion:         tls.VersionTLS11,
		VerifyConnection: func(cs tls.ConnectionState) error {
			agreed = cs.Version
			return nil
		},
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, nil // probe reports the connection failure
	}
	defer conn.Close()
	err = tls.Client(conn, cfg).HandshakeContext(ctx)
	if err != nil && agreed == 0 && strings.Contains(err.Error(), "no supported versions") {
		return 0, errNoOldTLS
	}
	return agreed, nil
}

// sslCertificate is one entry of GET _ssl/certificates.
type sslCertificate struct {
	Path          string `json:"path"`
	Serial        string `json:"serial_number"`
	HasPrivateKey bool   `json:"has_private_key"`
}

// notLoaded compares the leaf each port serves with the certificates the node says it
// loaded from its files (the ones with a private key): a difference means the node
// has not reloaded its files yet, or something else answers on its port.
func notLoaded(ctx context.Context, n node, opts Options, served map[string]*probe.Result) []check.Finding {
	c, err := esapi.New("https://"+n.httpAddr, esapi.Config{Roots: opts.Roots, ServerName: n.httpHost, Timeout: opts.Timeout})
	if err != nil {
		return nil
	}
	var loaded []sslCertificate
	if err := c.Do(ctx, http.MethodGet, "_ssl/certificates", opts.Auth, nil, &loaded); err != nil {
		// The HTTP probe has said why the node cannot be reached or trusted.
		return nil
	}
	var out []check.Finding
	for _, layer := range []string{"http", "transport"} {
		r := served[layer]
		if r == nil || len(r.Chain) == 0 {
			continue
		}
		serial := normalSerial(r.Chain[0].Serial)
		if slices.ContainsFunc(loaded, func(s sslCertificate) bool { return s.HasPrivateKey && normalSerial(s.Serial) == serial }) {
			continue
		}
		out = append(out, check.Finding{Severity: check.Problem, ID: IDNotLoaded, Node: n.name, Setting: "xpack.security." + layer + ".ssl",
			Message: fmt.Sprintf("%s %s serves the certificate with serial %s, which is not among the certificates the node loaded (GET _ssl/certificates)", layer, r.Address, serial),
			Fix:     "wait 5 s for the node to reload changed files and check again; if it persists, find what else answers on that port"})
	}
	return out
}

// normalSerial is a serial number as lower-case hex without separators or leading
// zeros, the one form both inspect and _ssl/certificates can be brought to.
func normalSerial(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, ":", ""))
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}
