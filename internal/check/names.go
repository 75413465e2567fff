package check

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/nodetls"
)

// leaves are the node's own certificates of a context: CA entries (Elasticsearch's
// auto-configured http.p12 also holds the HTTP CA's key) only when there is nothing else.
func (t *tlsContext) leaves() []*x509.Certificate {
	var out, cas []*x509.Certificate
	for _, chain := range t.chains {
		if chain[0].IsCA {
			cas = append(cas, chain[0])
		} else {
			out = append(out, chain[0])
		}
	}
	if len(out) == 0 {
		return cas
	}
	return out
}

// checkTrustRestrictions: the trust restrictions file exists, names patterns, and the
// node's own certificate matches them, or every peer with the same file rejects it.
func (c *checker) checkTrustRestrictions(t *tlsContext) {
	f := t.TrustRestrictions
	if f == nil {
		return
	}
	data, ok := c.read(*f, false)
	if !ok {
		return
	}
	file := c.display(f.Path)
	parsed, err := esconfig.Parse(data)
	var patterns []string
	if err == nil {
		patterns = parsed.List("trust.subject_name")
		if len(patterns) == 0 {
			err = errors.New("it has no trust.subject_name list")
		}
	}
	if err != nil {
		c.add(Problem, "file-unparsable", file, 0, f.Setting,
			fmt.Sprintf("%s is not a usable trust restrictions file: %v", file, err),
			`write trust.subject_name: ["*.node.<cluster>"] into it (escert bootstrap writes one)`)
		return
	}
	for _, leaf := range t.leaves() {
		var names []string
		for _, field := range t.TrustFields {
			switch field {
			case "subjectAltName.otherName.commonName":
				other, _ := ca.OtherNames(leaf)
				names = append(names, other...)
			case "subjectAltName.dnsName":
				names = append(names, leaf.DNSNames...)
			}
		}
		if !matchesAny(patterns, names) {
			c.add(Problem, "trust-restrictions-mismatch", file, 0, f.Setting,
				fmt.Sprintf("this node's certificate %q (names %s) matches none of %s in %s: nodes with the same restrictions reject it", ca.FormatDN(leaf.RawSubject), listOrNone(names), strings.Join(patterns, ", "), file),
				"reissue the certificate with the node name the pattern expects (escert cert --cluster-name), or fix the pattern")
		}
	}
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// matchesAny applies Elasticsearch's trust patterns: /regex/ or a wildcard where * and
// ? match any characters, dots included (Automatons.patterns).
func matchesAny(patterns, names []string) bool {
	for _, p := range patterns {
		var expr string
		if len(p) > 1 && strings.HasPrefix(p, "/") && strings.HasSuffix(p, "/") {
			expr = p[1 : len(p)-1]
		} else {
			expr = regexp.QuoteMeta(p)
			expr = strings.ReplaceAll(expr, `\*`, ".*")
			expr = strings.ReplaceAll(expr, `\?`, ".")
		}
		re, err := regexp.Compile("^(?:" + expr + ")$")
		if err != nil {
			continue
		}
		for _, n := range names {
			if re.MatchString(n) {
				return true
			}
		}
	}
	return false
}

// checkNames: the HTTP certificate covers the hosts the node is reached by, or clients
// that verify host names (all of them, by default) fail. On the transport layer the
// same holds when verification_mode is full, the default. Special values (_local_,
// _site_, _eth0_...) and wildcard addresses (0.0.0.0, ::) are skipped: they name no
// host, and resolving them here would describe this machine, not the node.
func (c *checker) checkNames(t *tlsContext) {
	leaves := t.leaves()
	if len(leaves) == 0 {
		return
	}
	id, who := "http-name-missing", "clients that verify host names (all, by default) reject the node there"
	switch t.Name {
	case esconfig.HTTP:
	case esconfig.Transport:
		who = "with verification_mode full, other nodes reject this one there"
		if mode := t.VerificationMode; mode != "" && !strings.EqualFold(mode, "full") {
			return
		}
		id = "transport-name-missing"
	default:
		return
	}
	for _, h := range t.Hosts {
		if isSpecialHost(h.Name) || covered(leaves, h) {
			continue
		}
		kind := "DNS name"
		if net.ParseIP(h.Name) != nil {
			kind = "IP address"
		}
		var names []string
		for _, leaf := range leaves {
			names = append(names, leaf.DNSNames...)
			for _, ip := range leaf.IPAddresses {
				names = append(names, ip.String())
			}
		}
		c.addSetting(Warning, id, h.Setting,
			fmt.Sprintf("%s is %s, which the %s certificate in %s does not name (it names %s): %s", h.Setting, h.Name, layerName[t.Name], t.chainFile, listOrNone(names), who),
			fmt.Sprintf("reissue the certificate with %s %s (escert cert --dns/--ip), or reach the node by a name it has", kind, h.Name))
	}
}

func covered(leaves []*x509.Certificate, h nodetls.Host) bool {
	for _, leaf := range leaves {
		if leaf.VerifyHostname(h.Name) == nil {
			return true
		}
	}
	return false
}

// isSpecialHost reports Elasticsearch's special network values (_local_, _site_,
// _eth0:ipv4_...) and wildcard addresses: they name no host a certificate could cover.
func isSpecialHost(h string) bool {
	return strings.HasPrefix(h, "_") && strings.HasSuffix(h, "_") || h == "0.0.0.0" || h == "::" || h == ""
}
