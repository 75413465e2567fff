package check

import (
	"fmt"
	"strings"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/nodetls"
)

// checkFIPS: a node in FIPS 140 mode (xpack.security.fips_mode.enabled: true) keeps
// its keys inside the FIPS module and refuses to run on a JVM without it. What each
// finding says was seen on real FIPS nodes (internal/e2e): a PKCS#12 store loads, but
// through the JDK's SUN provider; the launcher on the FIPS JVM refuses a keystore
// password under 14 bytes.
func (c *checker) checkFIPS() {
	if v, _ := c.value("xpack.security.fips_mode.enabled"); v != "true" {
		return
	}
	for _, l := range c.tlsConfigs() {
		for _, s := range []*nodetls.Store{l.Keystore, l.Truststore} {
			if s == nil {
				continue
			}
			if typ := esconfig.StoreType(s.Path, s.Type); typ != "BCFKS" {
				c.addSetting(Problem, "fips-store-outside-module", s.Setting,
					fmt.Sprintf("%s is a %s store: in a FIPS JVM the JDK's own provider reads it, outside the FIPS module (BouncyCastle FIPS reads only BCFKS in approved-only mode)", s.Value, typ),
					"use PEM files (escert bootstrap --fips, then escert install --fips) or a BCFKS store")
			}
		}
	}
	if c.keystorePasswordLen < fips.MinPasswordLen {
		msg := fmt.Sprintf("elasticsearch.keystore's password has %d bytes", c.keystorePasswordLen)
		switch {
		case c.keystore == nil:
			msg = "there is no elasticsearch.keystore: the node creates one without a password"
		case c.keystorePasswordLen == 0:
			msg = "elasticsearch.keystore has no password"
		}
		c.add(Problem, "fips-keystore-password", keystoreName, 0, "",
			msg+": on a FIPS JVM the launcher derives no key from fewer than 14 bytes and the node does not start; elsewhere the keystore is decrypted outside the FIPS module",
			"set a password of 14 bytes or more: escert keystore passwd --new-pass-file FILE")
	}
	const providers = "xpack.security.fips_mode.required_providers"
	if _, set := c.value(providers); !set {
		c.add(Warning, "fips-providers-unchecked", ymlName, 0, providers,
			"nothing makes the node refuse to start on a JVM that lost its FIPS providers",
			`set xpack.security.fips_mode.required_providers: ["BCFIPS:2*", "BCJSSE:2*"] (9.4+, FIPS 140-3) or ["BCFIPS", "BCJSSE"] (8.13+); escert bootstrap --fips writes it`)
	}
	const hashing = "xpack.security.authc.password_hashing.algorithm"
	if v, set := c.value(hashing); set && !strings.HasPrefix(strings.ToLower(v), "pbkdf2") {
		c.addSetting(Problem, "fips-password-hashing", hashing,
			fmt.Sprintf("password hashes are %s: FIPS mode allows only the PBKDF2 family, and the node refuses to start", v),
			"set xpack.security.authc.password_hashing.algorithm: pbkdf2_stretch, then change the users' passwords so their hashes are re-created")
	}
}
