package check

import (
	"fmt"
	"strings"

	"github.com/escert/escert/internal/esconfig"
)

// hasTLSConfig reports whether elasticsearch.yml configures TLS on either layer.
func (c *checker) hasTLSConfig() bool {
	for _, l := range c.node.Layers {
		if l.Configured {
			return true
		}
	}
	return false
}

// checkSecurity: xpack.security.enabled. Unset is a judgement call: Elasticsearch 8
// defaults it to true, and its first start auto-configures TLS unless TLS is already
// configured; 7.x defaults it to false. Unset with TLS configured is a warning (8.x is
// secure, but the file says nothing and 7.x would not be); unset without any TLS is a
// problem, since auto-configuration runs only on a brand-new node that forms its own
// cluster, so this node may well run without TLS or, on 7.x, without security.
func (c *checker) checkSecurity() {
	const key = "xpack.security.enabled"
	v, set := c.value(key)
	switch {
	case v == "true":
	case set:
		c.addSetting(Problem, "security-disabled", key,
			"security is off: no authentication, no authorization and no TLS, so anyone who reaches the node can read and change all data",
			"set xpack.security.enabled: true and configure TLS (escert bootstrap writes the settings, escert install puts them in place)")
	case c.hasTLSConfig():
		c.add(Warning, "security-implicit", c.ymlFile, 0, key,
			"xpack.security.enabled is not set: Elasticsearch 8 turns security on by default, 7.x leaves it off",
			"set xpack.security.enabled: true explicitly")
	default:
		c.add(Problem, "security-implicit", c.ymlFile, 0, key,
			"xpack.security.enabled is not set and no TLS is configured: only a brand-new 8.x node forming its own cluster auto-configures security on first start; otherwise the node runs without TLS (8.x) or without security (7.x)",
			"set xpack.security.enabled: true and configure TLS on both layers (escert bootstrap, then escert install)")
	}
}

// checkLayers: TLS on the transport and HTTP layers.
func (c *checker) checkLayers() {
	for _, l := range c.node.Layers {
		if l.Enabled {
			continue
		}
		key := l.Keys.Enabled
		_, set := c.value(key)
		var msg string
		switch {
		case set:
			msg = fmt.Sprintf("TLS is off on the %s layer: %s", layerName[l.Name], layerRisk[l.Name])
		case l.Configured:
			msg = fmt.Sprintf("%s is not set but other %s* settings are: Elasticsearch refuses to start", key, esconfig.SSLPrefix(l.Name))
		default:
			msg = fmt.Sprintf("TLS is not configured on the %s layer: %s", layerName[l.Name], layerRisk[l.Name])
		}
		c.add(Problem, l.Name+"-tls-disabled", c.ymlFile, c.settings[key].Line, key, msg,
			fmt.Sprintf("set %s: true with a keystore or a key and certificate (escert bootstrap writes both)", key))
	}
}

var layerRisk = map[string]string{
	esconfig.Transport: "node-to-node traffic, every document included, crosses the network in clear text and any host can join the cluster",
	esconfig.HTTP:      "passwords, API keys and data cross the network in clear text",
}

// checkVerification: verification_mode none anywhere (transport, HTTP, realms,
// monitoring exporters, reindex...), client authentication on the transport layer.
func (c *checker) checkVerification() {
	for _, key := range c.settings.Keys() {
		if key != "ssl.verification_mode" && !strings.HasSuffix(key, ".ssl.verification_mode") {
			continue
		}
		if v, _ := c.value(key); strings.EqualFold(v, "none") {
			c.addSetting(Problem, "verification-none", key,
				"verification_mode is none: certificates are not checked at all, so anyone can pose as the other side",
				"set "+key+": full (on the transport layer, certificate with trust restrictions also works)")
		}
	}
	transport := c.node.Layer(esconfig.Transport)
	auth := transport.Keys.ClientAuth
	switch strings.ToLower(transport.ClientAuth) {
	case "none":
		c.addSetting(Problem, "transport-client-auth-none", auth,
			"transport client authentication is none: any host that trusts the CA can connect to the node's transport port without a certificate of its own",
			"remove the setting or set it to required (the default)")
	case "optional":
		c.addSetting(Warning, "transport-client-auth-optional", auth,
			"transport client authentication is optional: a host without a certificate can still connect to the transport port",
			"remove the setting or set it to required (the default)")
	}
}

// checkPlaintextSecrets: passwords, passphrases and secrets written into
// elasticsearch.yml, where every reader of the file (and every backup) sees them.
func (c *checker) checkPlaintextSecrets() {
	for _, key := range c.settings.Keys() {
		if !esconfig.IsPlaintextSecret(key) {
			continue
		}
		if _, set := c.value(key); !set {
			continue
		}
		secure := esconfig.SecureName(key)
		c.addSetting(Problem, "plaintext-secret", key,
			key+" holds a secret in plain text in elasticsearch.yml, which backups, config management and log bundles copy around",
			fmt.Sprintf("remove it from elasticsearch.yml and store it in elasticsearch.keystore: elasticsearch-keystore add %s", secure))
	}
}

// checkAudit: audit logging is on the checklist but needs a paid license or a trial,
// so its absence is a warning.
func (c *checker) checkAudit() {
	const key = "xpack.security.audit.enabled"
	if v, _ := c.value(key); v == "true" {
		return
	}
	c.add(Warning, "audit-disabled", c.ymlFile, c.settings[key].Line, key,
		"audit logging is off: logins, denied requests and security changes leave no trace",
		"set xpack.security.audit.enabled: true (needs a Platinum or Enterprise license, or a trial)")
}

// checkKeystoreNeeded: settings need passwords and there is no keystore to hold them.
func (c *checker) checkKeystoreNeeded() {
	if c.keystore != nil || len(c.needKeystore) == 0 {
		return
	}
	c.add(Problem, "keystore-missing", keystoreName, 0, "",
		fmt.Sprintf("elasticsearch.keystore does not exist, but the files elasticsearch.yml names need passwords from it: %s", strings.Join(c.needKeystore, ", ")),
		"copy the node bundle's elasticsearch.keystore into the config directory, or create it and add them: elasticsearch-keystore add <setting>")
}
