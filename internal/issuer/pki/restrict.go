package pki

import (
	"fmt"
	"slices"
	"strings"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/spec"
)

// ErrNoRestriction says nothing in the signed transport certificates tells the
// cluster's nodes from anything else their CA signs.
var ErrNoRestriction = fault.Sentinel(fault.Refused, "no transport trust restriction possible")

// Restriction decides what the transport trust restrictions of nodes (the cluster's
// transport certificates, already checked by New) can admit, given what the PKI's
// profile kept: the node otherNames when every certificate kept its own (nil: the
// bundle's default), else the nodes' DNS names when dnsField (the nodes'
// Elasticsearch reads trust_restrictions.x509_fields) and every node has one, with a
// note to print. Otherwise nothing distinguishes a node, and the error says so and
// what to ask the PKI team for.
func (i *Issuer) Restriction(nodes []spec.Certificate, cluster string, dnsField bool) (*spec.Restriction, string, error) {
	var dropped, noDNS []string
	var names []string
	var issuers []string
	for _, c := range nodes {
		iss, ok := i.Issued(c.Dir, c.Base)
		if !ok {
			return nil, "", fmt.Errorf("no checked certificate for the %s certificate of %q", c.Base, c.Instance)
		}
		if len(iss.MissingOtherNames) > 0 {
			dropped = append(dropped, c.Instance)
		}
		if len(c.DNSNames) == 0 {
			noDNS = append(noDNS, c.Instance)
		}
		names = append(names, c.DNSNames...)
		if dn := ca.FormatDN(iss.Chain[0].RawIssuer); !slices.Contains(issuers, dn) {
			issuers = append(issuers, dn)
		}
	}
	if len(dropped) == 0 {
		return nil, "", nil
	}
	lost := fmt.Sprintf("the PKI's profile dropped the node-name otherName (%s) from the transport certificates of %s",
		spec.TrustPattern(cluster), list(dropped))
	ask := "ask the PKI team for a profile that keeps otherName SANs (type 2.5.4.3), or for an issuing CA that signs only this cluster's nodes (then give it as --transport-root)"
	switch {
	case !dnsField:
		return nil, "", fault.Mark(fault.Refused, fmt.Errorf("%w: %s, and Elasticsearch before 8.5.3 (7.17.8 on 7.x) cannot restrict on DNS names instead, so any certificate %s signs with clientAuth could join the transport layer: %s, upgrade, or accept that risk with --no-trust-restrictions",
			ErrNoRestriction, lost, strings.Join(issuers, " or "), ask))
	case len(noDNS) > 0:
		return nil, "", fault.Mark(fault.Refused, fmt.Errorf("%w: %s, and %s has no DNS name to restrict on instead, so any certificate %s signs with clientAuth could join the transport layer: %s, add dns names to the instances file and request again, or accept that risk with --no-trust-restrictions",
			ErrNoRestriction, lost, list(noDNS), strings.Join(issuers, " or "), ask))
	}
	slices.Sort(names)
	r := &spec.Restriction{Field: spec.DNSNameField, Names: slices.Compact(names)}
	note := lost + ": the transport trust restrictions admit the nodes' DNS names instead (x509_fields: subjectAltName.dnsName), so a certificate from the same CA for one of those names could join; a node added later needs its DNS names added to certs/transport-trust.yml on every node (Elasticsearch reloads it)"
	return r, note, nil
}

// list names up to three instances, then how many more.
func list(names []string) string {
	if len(names) <= 3 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:3], ", "), len(names)-3)
}
