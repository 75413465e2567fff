// Package esapi is escert's client of a live cluster's REST API: HTTPS that trusts
// given CAs and verifies the node's name, basic authentication per request, and one
// classification of what went wrong (unreachable, refused credentials, an
// Elasticsearch error) with the fault kinds the CLI turns into exit codes.
package esapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/escert/escert/internal/fault"
)

// DefaultTimeout bounds one request.
const DefaultTimeout = 30 * time.Second

// maxBody bounds what is read of an answer: _nodes/settings of a large cluster is the
// largest escert asks for.
const maxBody = 16 << 20

// Sentinels, for errors.Is.
var (
	// ErrUnauthorized: the cluster answered 401 to the credentials given (or to none).
	ErrUnauthorized = fault.Sentinel(fault.Credentials, "the cluster refused the credentials")
	// ErrUnreachable: no HTTPS answer (refused, timed out, not TLS, a server error).
	ErrUnreachable = fault.Sentinel(fault.Unavailable, "the cluster is unreachable")
	// ErrUntrusted: the node's certificate does not verify to the CAs given or does not
	// name the host of the URL.
	ErrUntrusted = fault.Sentinel(fault.Input, "the node's certificate is not trusted")
)

// Auth is a user and password for basic authentication; a nil *Auth sends none.
type Auth struct {
	User     string
	Password []byte
}

// Client talks to one node, at its base URL.
type Client struct {
	base *url.URL
	http *http.Client
}

// Config shapes a client.
type Config struct {
	// Roots are the only CAs trusted; nil is the system roots.
	Roots *x509.CertPool
	// ServerName is the name the node's certificate must carry; empty is the URL's
	// host. A node reached at its publish IP is checked against its publish host name.
	ServerName string
	// Timeout bounds each request; 0 is DefaultTimeout.
	Timeout time.Duration
}

// New returns a client of the node at base (https://host:port).
func New(base string, cfg Config) (*Client, error) {
	u, err := ParseURL(base)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Client{base: u, http: &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: cfg.Roots, ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12},
			Proxy:           nil, // a node is reached directly, never through HTTPS_PROXY
		},
		// A node never redirects its API; following one would send the password on.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// ParseURL accepts https://host[:port] with no path, query or user: the password comes
// from a file, never from a URL that ends up in shell history.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// url's errors quote the input, which may hold a password: say less.
		return nil, errors.New("not a URL: give https://host:port")
	case u.User != nil:
		// Never repeat it: the URL holds a password.
		return nil, errors.New("a URL must not carry a user or password: escert reads passwords from files")
	case u.Scheme != "https":
		return nil, fmt.Errorf("%q: give an https:// URL (escert talks to secured clusters only)", s)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q: no host", s)
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q: give the node's base URL, without a path or query", s)
	}
	if u.Port() == "" {
		u.Host += ":9200"
	}
	u.Path = ""
	return u, nil
}

// URL is the node's base URL, for messages.
func (c *Client) URL() string { return c.base.String() }

// Host is the host name or IP of the base URL.
func (c *Client) Host() string { return c.base.Hostname() }

// Response is an answer of the node, whatever its status.
type Response struct {
	Status int
	Body   []byte
}

// Send makes one request and returns the node's answer, whatever its status; the error
// is only for an answer that never came (ErrUnreachable, ErrUntrusted).
func (c *Client) Send(ctx context.Context, method, path string, auth *Auth, body any) (*Response, error) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+"/"+strings.TrimPrefix(path, "/"), reader)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != nil {
		req.SetBasicAuth(auth.User, string(auth.Password))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer to %s %s: %w: %v", c.base, method, path, ErrUnreachable, err)
	}
	return &Response{Status: resp.StatusCode, Body: data}, nil
}

// transportError says why no answer came, without the request's URL (which the
// caller names) and with the x509 reason when the certificate was the cause.
func (c *Client) transportError(err error) error {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	switch {
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid):
		return fmt.Errorf("%s: %w: %v", c.base, ErrUntrusted, err)
	default:
		return fmt.Errorf("%s: %w: %v", c.base, ErrUnreachable, err)
	}
}

// Do makes one request and decodes a 2xx JSON answer into out (when not nil). Any
// other status is an error: 401 is ErrUnauthorized, 5xx ErrUnreachable (the node is
// not serving), the rest an error carrying Elasticsearch's reason.
func (c *Client) Do(ctx context.Context, method, path string, auth *Auth, body, out any) error {
	resp, err := c.Send(ctx, method, path, auth, body)
	if err != nil {
		return err
	}
	if err := resp.Err(); err != nil {
		return fmt.Errorf("%s %s%s: %w", method, c.base, "/"+strings.TrimPrefix(path, "/"), err)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return fmt.Errorf("%s %s/%s: not the JSON Elasticsearch answers: %v", method, c.base, strings.TrimPrefix(path, "/"), err)
		}
	}
	return nil
}

// Err classifies a status other than 2xx.
func (r *Response) Err() error {
	switch {
	case r.Status >= 200 && r.Status < 300:
		return nil
	case r.Status == http.StatusUnauthorized:
		return ErrUnauthorized
	case r.Status >= 500:
		return fmt.Errorf("%w: HTTP %d: %s", ErrUnreachable, r.Status, r.Reason())
	default:
		return fmt.Errorf("HTTP %d: %s", r.Status, r.Reason())
	}
}

// Reason is Elasticsearch's error.reason of the answer, else its first line.
func (r *Response) Reason() string {
	var e struct {
		Error struct {
			Reason string `json:"reason"`
		} `json:"error"`
	}
	if json.Unmarshal(r.Body, &e) == nil && e.Error.Reason != "" {
		return e.Error.Reason
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(r.Body)), "\n")
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return line
}

// Health is the cluster's status: green, yellow or red.
func (c *Client) Health(ctx context.Context, auth *Auth) (string, error) {
	var h struct {
		Status string `json:"status"`
	}
	if err := c.Do(ctx, http.MethodGet, "_cluster/health", auth, nil, &h); err != nil {
		return "", err
	}
	return h.Status, nil
}

// Authenticates says whether the node accepts auth (GET _security/_authenticate
// answers 200 for it); only a 401 is "no", anything else unexpected is an error.
func (c *Client) Authenticates(ctx context.Context, auth *Auth) (bool, error) {
	resp, err := c.Send(ctx, http.MethodGet, "_security/_authenticate", auth, nil)
	if err != nil {
		return false, err
	}
	if resp.Status == http.StatusUnauthorized {
		return false, nil
	}
	if err := resp.Err(); err != nil {
		return false, fmt.Errorf("GET %s/_security/_authenticate: %w", c.base, err)
	}
	return true, nil
}
