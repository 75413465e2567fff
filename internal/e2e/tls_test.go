package e2e

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/escert/escert/internal/realtest"
)

// refusesOldTLS: a node on escert's settings (Elasticsearch's default protocols)
// refuses a TLS 1.1 handshake on both ports, while TLS 1.2 completes on the HTTP port:
// the fact behind check's tls-old-protocol finding, seen on the real node.
func refusesOldTLS(t *testing.T, n *realtest.Node) {
	t.Helper()
	handshake := func(addr string, version uint16) error {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		// Only the protocol is in question here, not the chain, which probe checks.
		c := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, MinVersion: version, MaxVersion: version, ServerName: "localhost"})
		return c.Handshake()
	}
	for _, addr := range []string{n.HTTPAddr(), n.TransportAddr()} {
		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
			if err := handshake(addr, v); err == nil {
				t.Errorf("%s %s: a %s handshake completed; the node must refuse TLS below 1.2", n.Name, addr, tls.VersionName(v))
			}
		}
	}
	if err := handshake(n.HTTPAddr(), tls.VersionTLS12); err != nil {
		t.Errorf("%s %s: a TLS 1.2 handshake failed, so the refusals above prove nothing: %v", n.Name, n.HTTPAddr(), err)
	}
}
