package check

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/p12"
)

// tlsPrefixes lists every TLS configuration elasticsearch.yml has, as the prefix of
// its settings: "xpack.security.transport.ssl", "xpack.security.http.ssl", then any
// other (realms, monitoring exporters, remote clusters, reindex), sorted.
func tlsPrefixes(s esconfig.Settings) []string {
	found := map[string]bool{}
	for k := range s {
		if i := strings.Index(k, ".ssl."); i >= 0 {
			found[k[:i+len(".ssl")]] = true
		}
	}
	var out, rest []string
	for _, l := range layers {
		p := "xpack.security." + l + ".ssl"
		if found[p] {
			out = append(out, p)
			delete(found, p)
		}
	}
	for p := range found {
		rest = append(rest, p)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// layerOf returns "transport" or "http" for the node's own layers, "" otherwise.
func layerOf(prefix string) string {
	for _, l := range layers {
		if prefix == "xpack.security."+l+".ssl" {
			return l
		}
	}
	return ""
}

// tlsContext is what one TLS configuration loaded.
type tlsContext struct {
	prefix, layer string
	// chains are the node's own certificate chains, leaf first: one per key entry of
	// a keystore, or the certificate file of a PEM key.
	chains    [][]*x509.Certificate
	chainFile string // where the chains came from, for findings
	chainKey  string // the setting naming it
	// implicit is the keystore's trusted entries, which Elasticsearch trusts (besides
	// the JDK's CAs) when neither certificate_authorities nor truststore.path is set.
	implicit []*x509.Certificate
}

// checkTLS checks one TLS configuration: its files exist and parse, stores open with
// the configured passwords, keys match certificates, chains verify to the configured
// CAs, and the node's names and trust restrictions fit its certificates.
func (c *checker) checkTLS(prefix string) {
	t := &tlsContext{prefix: prefix, layer: layerOf(prefix)}
	key := func(name string) string { return prefix + "." + name }
	_, hasKS := c.value(key("keystore.path"))
	_, hasCert := c.value(key("certificate"))
	_, hasKey := c.value(key("key"))
	_, hasCAs := c.value(key("certificate_authorities"))
	_, hasTS := c.value(key("truststore.path"))
	conflict := func(setting, msg, fix string) { c.addSetting(Problem, "tls-conflict", setting, msg, fix) }
	if hasKS && (hasCert || hasKey) {
		conflict(key("keystore.path"), fmt.Sprintf("%s and %s/key are both set: Elasticsearch refuses to start", key("keystore.path"), key("certificate")),
			"keep either the keystore or the PEM key and certificate")
	}
	if hasCert != hasKey {
		missing, given := key("key"), key("certificate")
		if hasKey {
			missing, given = given, missing
		}
		conflict(given, fmt.Sprintf("%s is set without %s: Elasticsearch refuses to start", given, missing), "set "+missing+" too")
	}
	if hasCAs && hasTS {
		conflict(key("truststore.path"), fmt.Sprintf("%s and %s are both set: Elasticsearch refuses to start", key("certificate_authorities"), key("truststore.path")),
			"keep only one of them")
	}
	if v, _ := c.value(key("enabled")); t.layer != "" && v == "true" && !hasKS && !hasCert && !hasKey {
		c.addSetting(Problem, "tls-no-key", key("enabled"),
			fmt.Sprintf("TLS is on for the %s layer but no keystore or key is configured: Elasticsearch refuses to start", layerName[t.layer]),
			fmt.Sprintf("set %s (PKCS#12) or %s and %s", key("keystore.path"), key("key"), key("certificate")))
	}
	c.checkSecureAndLegacy(prefix)

	// Key material.
	switch {
	case hasKS:
		s := c.settings[key("keystore.path")]
		if contents := c.loadStore(prefix, "keystore", s, true); contents != nil {
			t.chainFile, t.chainKey = c.display(c.resolve(s.Value)), s.Key
			if len(contents.Keys) == 0 {
				c.add(Problem, "keystore-no-key", t.chainFile, 0, s.Key,
					fmt.Sprintf("%s holds no private key entry: Elasticsearch has no certificate to present", t.chainFile),
					"use a PKCS#12 file with the node's key and certificate (escert bootstrap or escert cert write one)")
			}
			for _, k := range contents.Keys {
				if signer, ok := k.Key.(crypto.Signer); !ok || ca.KeyMatches(k.Chain[0], signer) != nil {
					c.add(Problem, "key-mismatch", t.chainFile, 0, s.Key,
						fmt.Sprintf("key entry %q does not match its certificate %q", k.Alias, ca.FormatDN(k.Chain[0].RawSubject)),
						"rebuild the keystore from the key and the certificate issued for it")
					continue
				}
				t.chains = append(t.chains, k.Chain)
			}
			for _, tr := range contents.Trusted {
				t.implicit = append(t.implicit, tr.Cert)
			}
		}
	case hasCert:
		s := c.settings[key("certificate")]
		chain := c.loadCerts(s.Value, s.Key)
		var signer crypto.Signer
		if hasKey {
			signer = c.loadKey(prefix)
		}
		if chain != nil {
			t.chainFile, t.chainKey = c.display(c.resolve(s.Value)), s.Key
			if signer != nil && ca.KeyMatches(chain[0], signer) != nil {
				ks := c.settings[key("key")]
				c.add(Problem, "key-mismatch", c.display(c.resolve(ks.Value)), 0, ks.Key,
					fmt.Sprintf("the key does not match the certificate %q in %s", ca.FormatDN(chain[0].RawSubject), t.chainFile),
					"install the key the certificate was issued for (or the certificate issued for this key)")
			} else if signer != nil {
				t.chains = append(t.chains, chain)
			}
		}
	case hasKey:
		c.loadKey(prefix)
	}

	// Trust.
	var anchors []*x509.Certificate
	trustFrom, trustOK := "", true
	switch {
	case hasCAs:
		trustFrom = key("certificate_authorities")
		for _, p := range c.settings.List(trustFrom) {
			certs := c.loadCerts(p, trustFrom)
			if certs == nil {
				trustOK = false
			}
			anchors = append(anchors, certs...)
		}
	case hasTS:
		s := c.settings[key("truststore.path")]
		trustFrom = s.Key
		contents := c.loadStore(prefix, "truststore", s, false)
		switch {
		case contents == nil:
			trustOK = false
		case len(contents.Trusted) == 0:
			trustOK = false
			c.add(Problem, "truststore-no-trusted", c.display(c.resolve(s.Value)), 0, s.Key,
				fmt.Sprintf("%s holds no trusted certificate entry: Java ignores CA certificates in a key's chain or without the trust attribute, so Elasticsearch refuses it as a truststore", c.display(c.resolve(s.Value))),
				"use a PKCS#12 file with the CA as a trusted entry (keytool lists it as trustedCertEntry; escert bundles have one), or set certificate_authorities to a PEM CA file instead")
		}
		if contents != nil {
			for _, tr := range contents.Trusted {
				anchors = append(anchors, tr.Cert)
			}
		}
	default:
		trustFrom, anchors = key("keystore.path")+" (its trusted entries)", t.implicit
	}

	// Chains.
	switch {
	case !trustOK || len(t.chains) == 0:
	case len(anchors) == 0 && t.layer == "transport":
		c.add(Problem, "trust-missing", ymlName, 0, key("truststore.path"),
			"the transport layer trusts no CA of its own (no certificate_authorities, no truststore.path, no trusted entry in the keystore), only the JDK's public CAs: other nodes cannot join",
			fmt.Sprintf("set %s or %s to the transport CA", key("certificate_authorities"), key("truststore.path")))
	case len(anchors) == 0:
		// Nothing configured to verify against: HTTP clients bring their own trust.
	default:
		for _, chain := range t.chains {
			c.verifyChain(t, chain, anchors, trustFrom)
		}
	}
	c.checkTrustRestrictions(t)
	c.checkNames(t)
}

// checkSecureAndLegacy: a password both in the keystore and in elasticsearch.yml makes
// Elasticsearch refuse to start.
func (c *checker) checkSecureAndLegacy(prefix string) {
	for _, pair := range [][2]string{
		{"keystore.secure_password", "keystore.password"},
		{"keystore.secure_key_password", "keystore.key_password"},
		{"truststore.secure_password", "truststore.password"},
		{"secure_key_passphrase", "key_passphrase"},
	} {
		legacy := prefix + "." + pair[1]
		if _, inKeystore := c.secret(prefix + "." + pair[0]); inKeystore {
			if _, inYml := c.value(legacy); inYml {
				c.addSetting(Problem, "tls-conflict", legacy,
					fmt.Sprintf("%s is set in elasticsearch.yml while elasticsearch.keystore holds %s.%s: Elasticsearch refuses to start", legacy, prefix, pair[0]),
					"remove "+legacy+" from elasticsearch.yml")
			}
		}
	}
}

// password returns the password Elasticsearch uses for a store or key: the secure
// setting from the keystore, else the legacy plaintext setting, else empty. from
// describes the source for messages; secure is the secure setting's name.
func (c *checker) password(secure, legacy string) (pw, from string) {
	if v, ok := c.secret(secure); ok {
		return string(v), "the password in elasticsearch.keystore's " + secure
	}
	if v, ok := c.value(legacy); ok {
		return v, "the password in elasticsearch.yml's " + legacy
	}
	return "", ""
}

// javaKeystoreMagic starts JKS and JCEKS files, which escert cannot open.
var javaKeystoreMagic = [][]byte{{0xfe, 0xed, 0xfe, 0xed}, {0xce, 0xce, 0xce, 0xce}}

// loadStore opens a PKCS#12 keystore or truststore (kind) with the password
// Elasticsearch would use. nil when it cannot be opened; the reason is a finding.
func (c *checker) loadStore(prefix, kind string, s esconfig.Setting, key bool) *p12.Contents {
	path := c.resolve(s.Value)
	c.ref(path, key)
	data, ok := c.read(path, s.Key, infile.PKCS12)
	if !ok {
		return nil
	}
	file := c.display(path)
	storeType, _ := c.value(prefix + "." + kind + ".type")
	if t := strings.ToLower(storeType); t == "jks" || t == "bcfks" || t == "jceks" ||
		len(data) >= 4 && (bytes.Equal(data[:4], javaKeystoreMagic[0]) || bytes.Equal(data[:4], javaKeystoreMagic[1])) {
		c.add(Warning, "store-not-checked", file, 0, s.Key,
			fmt.Sprintf("%s is a Java-only keystore (JKS, JCEKS or BCFKS): its password, certificates and expiry were not checked", file),
			"convert it to PKCS#12 (keytool -importkeystore -deststoretype PKCS12), which Elasticsearch reads as well")
		return nil
	}
	secure := prefix + "." + kind + ".secure_password"
	pw, from := c.password(secure, prefix+"."+kind+".password")
	contents, err := c.decodeP12(path, data, pw)
	switch {
	case errors.Is(err, p12.ErrWrongPassword):
		switch {
		case from == "" && c.keystore == nil:
			c.needKeystore = append(c.needKeystore, secure)
		case from == "":
			c.add(Problem, "p12-password", file, 0, s.Key,
				fmt.Sprintf("%s does not open without a password, and elasticsearch.keystore has no %s", file, secure),
				"add the file's password to the keystore: elasticsearch-keystore add "+secure)
		default:
			c.add(Problem, "p12-password", file, 0, s.Key,
				fmt.Sprintf("%s does not open with %s: Elasticsearch will not start", file, from),
				"store the file's password: elasticsearch-keystore add -f "+secure)
		}
		return nil
	case err != nil:
		c.add(Problem, "file-unparsable", file, 0, s.Key,
			fmt.Sprintf("%s is not a usable PKCS#12 file: %v", file, err),
			"replace it with the PKCS#12 file of the node bundle")
		return nil
	}
	for _, k := range contents.Keys {
		c.noteCerts(file, s.Key, k.Chain...)
	}
	for _, t := range contents.Trusted {
		c.noteCerts(file, s.Key, t.Cert)
	}
	c.noteCerts(file, s.Key, contents.Other...)
	return contents
}

// decodeP12 decodes a PKCS#12 file once per password: a transport.p12 serving as
// keystore and truststore costs one key derivation, not two.
func (c *checker) decodeP12(path string, data []byte, pw string) (*p12.Contents, error) {
	key := path + "\x00" + pw
	if r, ok := c.p12Cache[key]; ok {
		return r.contents, r.err
	}
	contents, err := p12.Decode(data, pw)
	c.p12Cache[key] = p12Result{contents, err}
	return contents, err
}

type p12Result struct {
	contents *p12.Contents
	err      error
}

// loadCerts reads a PEM (or DER) certificate file.
func (c *checker) loadCerts(value, setting string) []*x509.Certificate {
	path := c.resolve(value)
	c.ref(path, false)
	data, ok := c.read(path, setting, infile.PEM)
	if !ok {
		return nil
	}
	certs, err := ca.ParseCertificates(data)
	if err != nil {
		c.add(Problem, "file-unparsable", c.display(path), 0, setting,
			fmt.Sprintf("%s holds no usable certificate: %v", c.display(path), err),
			"replace it with the PEM certificate file of the node bundle")
		return nil
	}
	c.noteCerts(c.display(path), setting, certs...)
	return certs
}

// loadKey reads the PEM key of a TLS configuration with its passphrase.
func (c *checker) loadKey(prefix string) crypto.Signer {
	s := c.settings[prefix+".key"]
	path := c.resolve(s.Value)
	c.ref(path, true)
	data, ok := c.read(path, s.Key, infile.Key)
	if !ok {
		return nil
	}
	file := c.display(path)
	secure := prefix + ".secure_key_passphrase"
	pw, from := c.password(secure, prefix+".key_passphrase")
	key, err := ca.ParseKeyPEM(data, []byte(pw))
	switch {
	case errors.Is(err, ca.ErrKeyPassword):
		switch {
		case from == "" && c.keystore == nil:
			c.needKeystore = append(c.needKeystore, secure)
		case from == "":
			c.add(Problem, "key-passphrase", file, 0, s.Key,
				fmt.Sprintf("%s is encrypted and elasticsearch.keystore has no %s", file, secure),
				"add the passphrase: elasticsearch-keystore add "+secure)
		default:
			c.add(Problem, "key-passphrase", file, 0, s.Key,
				fmt.Sprintf("%s does not decrypt with %s", file, from),
				"store the key's passphrase: elasticsearch-keystore add -f "+secure)
		}
		return nil
	case err != nil:
		c.add(Problem, "file-unparsable", file, 0, s.Key,
			fmt.Sprintf("%s holds no usable private key: %v", file, err),
			"replace it with the PEM key file of the node bundle")
		return nil
	}
	return key
}

// verifyChain checks that a chain leads to the configured CAs. Expiry is reported on
// its own (cert-expired), so an expired chain is verified again at a time inside the
// leaf's validity to find any other fault.
func (c *checker) verifyChain(t *tlsContext, chain, anchors []*x509.Certificate, trustFrom string) {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, a := range anchors {
		roots.AddCert(a)
	}
	for _, i := range chain[1:] {
		inter.AddCert(i)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: c.now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	_, err := chain[0].Verify(opts)
	if isExpired(err) {
		leaf := chain[0]
		opts.CurrentTime = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
		if _, err = leaf.Verify(opts); isExpired(err) {
			err = nil
		}
	}
	if err != nil {
		c.add(Problem, "chain-untrusted", t.chainFile, 0, t.chainKey,
			fmt.Sprintf("certificate %q does not verify to the CAs of %s: %v", ca.FormatDN(chain[0].RawSubject), trustFrom, err),
			"issue the certificate from the configured CA, or configure the CA that issued it (and put any intermediate CA after the leaf)")
	}
}

func isExpired(err error) bool {
	var inv x509.CertificateInvalidError
	return errors.As(err, &inv) && inv.Reason == x509.Expired
}

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
	key := t.prefix + ".trust_restrictions.path"
	s, ok := c.settings[key]
	if !ok || s.Value == "" {
		return
	}
	path := c.resolve(s.Value)
	c.ref(path, false)
	data, ok := c.read(path, key, infile.Settings)
	if !ok {
		return
	}
	file := c.display(path)
	parsed, err := esconfig.Parse(data)
	var patterns []string
	if err == nil {
		patterns = parsed.List("trust.subject_name")
		if len(patterns) == 0 {
			err = errors.New("it has no trust.subject_name list")
		}
	}
	if err != nil {
		c.add(Problem, "file-unparsable", file, 0, key,
			fmt.Sprintf("%s is not a usable trust restrictions file: %v", file, err),
			`write trust.subject_name: ["*.node.<cluster>"] into it (escert bootstrap writes one)`)
		return
	}
	fields := c.settings.List(t.prefix + ".trust_restrictions.x509_fields")
	if len(fields) == 0 {
		fields = []string{"subjectAltName.otherName.commonName"}
	}
	for _, leaf := range t.leaves() {
		var names []string
		for _, f := range fields {
			switch f {
			case "subjectAltName.otherName.commonName":
				other, _ := ca.OtherNames(leaf)
				names = append(names, other...)
			case "subjectAltName.dnsName":
				names = append(names, leaf.DNSNames...)
			}
		}
		if !matchesAny(patterns, names) {
			c.add(Problem, "trust-restrictions-mismatch", file, 0, key,
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

// hostRef is a host name or address from a setting.
type hostRef struct{ host, key string }

// hosts lists the concrete names and addresses a layer binds or publishes, from the
// layer's own settings and network.host when the layer does not override it. Special
// values (_local_, _site_, _eth0_...) and wildcard addresses (0.0.0.0, ::) are skipped:
// they name no host, and resolving them here would describe this machine, not the node.
func (c *checker) hosts(layer string) []hostRef {
	keys := []string{layer + ".host", layer + ".publish_host"}
	if _, set := c.value(layer + ".host"); !set {
		keys = append(keys, "network.host")
	}
	var out []hostRef
	for _, k := range keys {
		for _, h := range c.settings.List(k) {
			if !isSpecialHost(h) {
				out = append(out, hostRef{strings.Trim(h, "[]"), k})
			}
		}
	}
	return out
}

// checkNames: the HTTP certificate covers the hosts the node is reached by, or clients
// that verify host names (all of them, by default) fail. On the transport layer the
// same holds when verification_mode is full, the default.
func (c *checker) checkNames(t *tlsContext) {
	leaves := t.leaves()
	if len(leaves) == 0 {
		return
	}
	id, who := "http-name-missing", "clients that verify host names (all, by default) reject the node there"
	switch t.layer {
	case "http":
	case "transport":
		who = "with verification_mode full, other nodes reject this one there"
		if mode, _ := c.value(t.prefix + ".verification_mode"); mode != "" && !strings.EqualFold(mode, "full") {
			return
		}
		id = "transport-name-missing"
	default:
		return
	}
	for _, h := range c.hosts(t.layer) {
		covered := false
		for _, leaf := range leaves {
			if leaf.VerifyHostname(h.host) == nil {
				covered = true
				break
			}
		}
		if covered {
			continue
		}
		kind := "DNS name"
		if net.ParseIP(h.host) != nil {
			kind = "IP address"
		}
		var names []string
		for _, leaf := range leaves {
			names = append(names, leaf.DNSNames...)
			for _, ip := range leaf.IPAddresses {
				names = append(names, ip.String())
			}
		}
		c.addSetting(Warning, id, h.key,
			fmt.Sprintf("%s is %s, which the %s certificate in %s does not name (it names %s): %s", h.key, h.host, layerName[t.layer], t.chainFile, listOrNone(names), who),
			fmt.Sprintf("reissue the certificate with %s %s (escert cert --dns/--ip), or reach the node by a name it has", kind, h.host))
	}
}
