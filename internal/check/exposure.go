package check

import (
	"fmt"
	"net"
	"strings"
)

// The rest of Elastic's checklist that elasticsearch.yml settles: who can reach the
// node, whether a browser page can script it, whether it answers without a login,
// and which TLS versions and suites it accepts.

// bindSettings are the settings that choose the addresses a node listens on; unset,
// Elasticsearch binds to loopback only.
var bindSettings = []string{
	"network.host", "network.bind_host",
	"http.host", "http.bind_host",
	"transport.host", "transport.bind_host",
}

// checkExposure: a node listening beyond loopback with no IP filter. A warning: a
// firewall may do the filtering, which no file here shows.
func (c *checker) checkExposure() {
	var exposed []string
	for _, key := range bindSettings {
		for _, v := range c.settings.List(key) {
			if !isLoopbackHost(v) {
				exposed = append(exposed, key)
				break
			}
		}
	}
	if len(exposed) == 0 || c.hasIPFilter() {
		return
	}
	c.addSetting(Warning, "ip-filter-missing", exposed[0],
		fmt.Sprintf("%s binds beyond loopback and no IP filter is configured: any host that reaches the network can try passwords on the HTTP port and handshakes on the transport port", strings.Join(exposed, ", ")),
		"allow only the hosts that need the node, e.g. xpack.security.transport.filter.allow: [\"10.0.0.0/24\"] and xpack.security.http.filter.allow (with xpack.security.http.filter.enabled: true), or a firewall doing the same")
}

// hasIPFilter reports an allow or deny rule for either layer or a transport profile,
// on a layer whose filtering is not turned off.
func (c *checker) hasIPFilter() bool {
	for _, key := range c.settings.Keys() {
		var enabled string
		switch {
		case strings.HasPrefix(key, "xpack.security.transport.filter."):
			enabled = "xpack.security.transport.filter.enabled"
		case strings.HasPrefix(key, "xpack.security.http.filter."):
			enabled = "xpack.security.http.filter.enabled"
		case strings.HasPrefix(key, "transport.profiles.") && strings.Contains(key, ".xpack.security.filter."):
		default:
			continue
		}
		if !strings.HasSuffix(key, ".allow") && !strings.HasSuffix(key, ".deny") {
			continue
		}
		if v, _ := c.value(enabled); enabled != "" && strings.EqualFold(v, "false") {
			continue
		}
		if _, set := c.value(key); set {
			return true
		}
	}
	return false
}

// isLoopbackHost reports a network value that binds to this host only.
func isLoopbackHost(v string) bool {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "_local_", "_local:ipv4_", "_local:ipv6_", "localhost":
		return true
	}
	ip := net.ParseIP(strings.Trim(v, "[]"))
	return ip != nil && ip.IsLoopback()
}

// checkCORS: http.cors.allow-origin "*" lets any web page a user opens send
// requests to the node from that user's browser.
func (c *checker) checkCORS() {
	const key = "http.cors.allow-origin"
	v, _ := c.value(key)
	if v = strings.TrimSpace(v); v != "*" && v != "/.*/" {
		return
	}
	enabled, _ := c.value("http.cors.enabled")
	if strings.EqualFold(enabled, "true") {
		c.addSetting(Problem, "cors-any-origin", key,
			"http.cors.allow-origin is "+v+" with CORS on: any web page a user opens can send requests to the cluster from that user's browser",
			"name the origins that need the cluster, e.g. http.cors.allow-origin: \"https://app.example.com\", or turn CORS off")
		return
	}
	c.addSetting(Warning, "cors-any-origin", key,
		"http.cors.allow-origin is "+v+": harmless while http.cors.enabled is off, but turning CORS on would let any web page send requests to the cluster",
		"name the origins that need the cluster instead of "+v)
}

// checkAnonymous: the anonymous realm gives requests without credentials the roles it
// names, so every host that reaches the HTTP port gets them.
func (c *checker) checkAnonymous() {
	const key = "xpack.security.authc.anonymous.roles"
	roles := c.settings.List(key)
	if len(roles) == 0 {
		return
	}
	c.addSetting(Problem, "anonymous-access", key,
		fmt.Sprintf("anonymous access is on: requests without credentials get the roles %s", strings.Join(roles, ", ")),
		"remove xpack.security.authc.anonymous.roles (and the other xpack.security.authc.anonymous.* settings), and give each client a user or API key")
}

// oldProtocols are the protocols below TLS 1.2, by the names Elasticsearch takes.
var oldProtocols = map[string]bool{"sslv2hello": true, "sslv3": true, "tlsv1": true, "tlsv1.1": true}

// weakSuiteParts mark cipher suites without real protection: no encryption, export
// grade, broken ciphers, MD5 or no authentication.
var weakSuiteParts = []string{"_NULL_", "_EXPORT", "_anon_", "_RC4_", "_DES_", "_DES40_", "_3DES_", "_MD5"}

// checkProtocols: supported_protocols and cipher_suites on any TLS context (the
// layers, realms, exporters, remote clusters) that accept what TLS 1.2's floor and
// Elastic's defaults leave out.
func (c *checker) checkProtocols() {
	for _, key := range c.settings.Keys() {
		switch {
		case key == "ssl.supported_protocols" || strings.HasSuffix(key, ".ssl.supported_protocols"):
			var old []string
			for _, p := range c.settings.List(key) {
				if oldProtocols[strings.ToLower(p)] {
					old = append(old, p)
				}
			}
			if len(old) > 0 {
				c.addSetting(Problem, "tls-old-protocol", key,
					fmt.Sprintf("%s allows %s: protocols below TLS 1.2 have known attacks and no PCI DSS or NIST approval", key, strings.Join(old, ", ")),
					"remove the setting (Elasticsearch's default is TLSv1.3 and TLSv1.2) or list only TLSv1.3 and TLSv1.2")
			}
		case key == "ssl.cipher_suites" || strings.HasSuffix(key, ".ssl.cipher_suites"):
			var weak []string
			for _, s := range c.settings.List(key) {
				if isWeakSuite(s) {
					weak = append(weak, s)
				}
			}
			if len(weak) > 0 {
				c.addSetting(Problem, "tls-weak-cipher", key,
					fmt.Sprintf("%s allows %s: no encryption, export-grade, broken (RC4, DES, 3DES) or unauthenticated suites", key, strings.Join(weak, ", ")),
					"remove the setting (Elasticsearch's defaults are AES-GCM and ChaCha20 suites with forward secrecy) or list only such suites")
			}
		}
	}
}

func isWeakSuite(suite string) bool {
	upper := strings.ToUpper(suite)
	for _, part := range weakSuiteParts {
		if strings.Contains(upper, strings.ToUpper(part)) {
			return true
		}
	}
	return false
}
