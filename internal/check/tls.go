package check

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/nodetls"
)

// tlsContext is one TLS configuration and what it loaded.
type tlsContext struct {
	nodetls.Layer
	// chains are the node's own certificate chains, leaf first: one per key entry of
	// a keystore, or the certificate file of a PEM key.
	chains    [][]*x509.Certificate
	chainFile string // where the chains came from, for findings
	chainKey  string // the setting naming it
	// implicit is the keystore's trusted entries, which Elasticsearch trusts (besides
	// the JDK's CAs) when neither certificate_authorities nor truststore.path is set.
	implicit []*x509.Certificate
}

// tlsConfigs are every TLS configuration to check: the node's layers that have
// settings, transport first, then the others (realms, exporters, remote clusters).
func (c *checker) tlsConfigs() []nodetls.Layer {
	var out []nodetls.Layer
	for _, l := range c.node.Layers {
		if l.Configured {
			out = append(out, l)
		}
	}
	return append(out, c.node.Other...)
}

// checkTLS checks one TLS configuration: its settings do not conflict, its files
// exist and parse, stores open with the configured passwords, keys match
// certificates, chains verify to the configured CAs for the layer's usages and carry
// their intermediate CAs, and the node's names and trust restrictions fit its
// certificates.
func (c *checker) checkTLS(l nodetls.Layer) {
	t := &tlsContext{Layer: l}
	c.checkConflicts(l)
	c.loadIdentity(t)
	if anchors, trustFrom, ok := c.loadTrust(t); ok {
		c.checkChains(t, anchors, trustFrom)
	}
	c.checkTrustRestrictions(t)
	c.checkNames(t)
}

// checkConflicts: settings Elasticsearch refuses to start with. Both a keystore and a
// PEM key, half a PEM pair, two sources of trust, TLS on without a key, or a password
// both in the keystore and in elasticsearch.yml.
func (c *checker) checkConflicts(l nodetls.Layer) {
	k := l.Keys
	conflict := func(setting, msg, fix string) { c.addSetting(Problem, "tls-conflict", setting, msg, fix) }
	hasCert, hasKey := l.Certificate != nil, l.Key != nil
	if l.Keystore != nil && (hasCert || hasKey) {
		conflict(k.KeystorePath, fmt.Sprintf("%s and %s/key are both set: Elasticsearch refuses to start", k.KeystorePath, k.Certificate),
			"keep either the keystore or the PEM key and certificate")
	}
	if hasCert != hasKey {
		missing, given := k.Key, k.Certificate
		if hasKey {
			missing, given = given, missing
		}
		conflict(given, fmt.Sprintf("%s is set without %s: Elasticsearch refuses to start", given, missing), "set "+missing+" too")
	}
	if len(l.CAs) > 0 && l.Truststore != nil {
		conflict(k.TruststorePath, fmt.Sprintf("%s and %s are both set: Elasticsearch refuses to start", k.CAs, k.TruststorePath),
			"keep only one of them")
	}
	if l.Name != "" && l.Enabled && l.Keystore == nil && !hasCert && !hasKey {
		c.addSetting(Problem, "tls-no-key", k.Enabled,
			fmt.Sprintf("TLS is on for the %s layer but no keystore or key is configured: Elasticsearch refuses to start", layerName[l.Name]),
			fmt.Sprintf("set %s (PKCS#12) or %s and %s", k.KeystorePath, k.Key, k.Certificate))
	}
	for _, p := range l.Passwords {
		if p.Conflict {
			conflict(p.Legacy, fmt.Sprintf("%s is set in elasticsearch.yml while elasticsearch.keystore holds %s: Elasticsearch refuses to start", p.Legacy, p.Secure),
				"remove "+p.Legacy+" from elasticsearch.yml")
		}
	}
}

// loadIdentity loads the node's own keys and chains: every key entry of the keystore
// that matches its certificate, or the PEM certificate when the key matches it.
func (c *checker) loadIdentity(t *tlsContext) {
	switch {
	case t.Keystore != nil:
		s := t.Keystore
		contents := c.loadStore(*s, true)
		if contents == nil {
			return
		}
		t.chainFile, t.chainKey = c.display(s.Path), s.Setting
		if len(contents.Keys) == 0 {
			c.add(Problem, "keystore-no-key", t.chainFile, 0, s.Setting,
				fmt.Sprintf("%s holds no private key entry: Elasticsearch has no certificate to present", t.chainFile),
				"use a PKCS#12 file with the node's key and certificate (escert bootstrap or escert cert write one)")
		}
		for _, k := range contents.Keys {
			if signer, ok := k.Key.(crypto.Signer); !ok || ca.KeyMatches(k.Chain[0], signer) != nil {
				c.add(Problem, "key-mismatch", t.chainFile, 0, s.Setting,
					fmt.Sprintf("key entry %q does not match its certificate %q", k.Alias, ca.FormatDN(k.Chain[0].RawSubject)),
					"rebuild the keystore from the key and the certificate issued for it")
				continue
			}
			t.chains = append(t.chains, k.Chain)
		}
		for _, tr := range contents.Trusted {
			t.implicit = append(t.implicit, tr.Cert)
		}
	case t.Certificate != nil:
		chain := c.loadCerts(*t.Certificate)
		var signer crypto.Signer
		if t.Key != nil {
			signer = c.loadKey(t.Layer)
		}
		if chain == nil || signer == nil {
			return
		}
		t.chainFile, t.chainKey = c.display(t.Certificate.Path), t.Certificate.Setting
		if ca.KeyMatches(chain[0], signer) != nil {
			c.add(Problem, "key-mismatch", c.display(t.Key.Path), 0, t.Key.Setting,
				fmt.Sprintf("the key does not match the certificate %q in %s", ca.FormatDN(chain[0].RawSubject), t.chainFile),
				"install the key the certificate was issued for (or the certificate issued for this key)")
			return
		}
		t.chains = append(t.chains, chain)
	case t.Key != nil:
		c.loadKey(t.Layer)
	}
}

// loadTrust loads the CAs the layer trusts and says where they come from; ok is false
// when a source of trust could not be loaded (the reason is a finding).
func (c *checker) loadTrust(t *tlsContext) (anchors []*x509.Certificate, trustFrom string, ok bool) {
	switch {
	case len(t.CAs) > 0:
		ok = true
		for _, f := range t.CAs {
			certs := c.loadCerts(f)
			if certs == nil {
				ok = false
			}
			anchors = append(anchors, certs...)
		}
		return anchors, t.Keys.CAs, ok
	case t.Truststore != nil:
		s := t.Truststore
		contents := c.loadStore(*s, false)
		if contents == nil {
			return nil, s.Setting, false
		}
		if len(contents.Trusted) == 0 {
			file := c.display(s.Path)
			c.add(Problem, "truststore-no-trusted", file, 0, s.Setting,
				fmt.Sprintf("%s holds no trusted certificate entry: Java ignores CA certificates in a key's chain or without the trust attribute, so Elasticsearch refuses it as a truststore", file),
				"use a PKCS#12 file with the CA as a trusted entry (keytool lists it as trustedCertEntry; escert bundles have one), or set certificate_authorities to a PEM CA file instead")
			return nil, s.Setting, false
		}
		for _, tr := range contents.Trusted {
			anchors = append(anchors, tr.Cert)
		}
		return anchors, s.Setting, true
	}
	return t.implicit, t.Keys.KeystorePath + " (its trusted entries)", true
}

// layerName is how messages name a layer.
var layerName = map[string]string{esconfig.Transport: "transport", esconfig.HTTP: "HTTP"}
