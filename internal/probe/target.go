package probe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Target is one endpoint to probe.
type Target struct {
	Input string // as the operator wrote it
	Host  string // a host name or an IP address, without brackets
	Port  string
}

// Address is host:port, ready to dial.
func (t Target) Address() string { return net.JoinHostPort(t.Host, t.Port) }

// ParseTarget reads HOST, HOST:PORT, [IPv6]:PORT, a bare IPv6 address or an https://
// URL without a path (as elasticsearch.hosts lists them). A missing port is
// defaultPort.
func ParseTarget(s, defaultPort string) (Target, error) {
	t := Target{Input: s}
	rest := strings.TrimSpace(s)
	if rest == "" {
		return t, errors.New("empty target")
	}
	if scheme, after, ok := strings.Cut(rest, "://"); ok {
		if !strings.EqualFold(scheme, "https") {
			return t, fmt.Errorf("target %q: scheme %s: probe speaks TLS only; give HOST:PORT or https://HOST:PORT", s, scheme)
		}
		rest = strings.TrimSuffix(after, "/")
	}
	if strings.ContainsAny(rest, "/@?# \t") {
		return t, fmt.Errorf("target %q: want HOST[:PORT], without path, user or spaces", s)
	}
	host, port := rest, defaultPort
	switch {
	case strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]"):
		host = rest[1 : len(rest)-1]
	case strings.HasPrefix(rest, "["):
		h, p, err := net.SplitHostPort(rest)
		if err != nil {
			return t, fmt.Errorf("target %q: %v", s, unwrapAddrError(err))
		}
		host, port = h, p
	case strings.Count(rest, ":") == 1:
		h, p, err := net.SplitHostPort(rest)
		if err != nil {
			return t, fmt.Errorf("target %q: %v", s, unwrapAddrError(err))
		}
		host, port = h, p
	case strings.Count(rest, ":") > 1:
		// A bare IPv6 address: its port, if any, needs brackets.
		if _, err := netip.ParseAddr(rest); err != nil {
			return t, fmt.Errorf("target %q: not an IPv6 address; write [ADDRESS]:PORT", s)
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return t, fmt.Errorf("target %q: port %q: want a number from 1 to 65535", s, port)
	}
	if err := checkHost(host); err != nil {
		return t, fmt.Errorf("target %q: %w", s, err)
	}
	t.Host, t.Port = host, strconv.Itoa(n)
	return t, nil
}

// checkHost accepts an IP address or a DNS name (letters, digits, '-', '_', '.').
func checkHost(host string) error {
	if host == "" {
		return errors.New("no host")
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if strings.Contains(host, ":") {
		return fmt.Errorf("host %q is not an IP address", host)
	}
	if len(host) > 253 {
		return fmt.Errorf("host name of %d characters: at most 253", len(host))
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host %q: empty or over-long label", host)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("host %q: character %q is not allowed in a host name", host, r)
			}
		}
	}
	return nil
}

func unwrapAddrError(err error) error {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return errors.New(ae.Err)
	}
	return err
}
