package check

import (
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/ossecurity"
)

const openSearchYML = "opensearch.yml"

// openSearchNode checks an OpenSearch node's config directory: the security plugin
// on, TLS on both layers with files that load and chains that verify, nodes_dn and
// admin_dn set and fitting the installed certificates, PKCS#8 keys, no demo
// certificates or demo password hashes, and the files' modes and owners.
func openSearchNode(dir string, info fs.FileInfo, now time.Time, opts Options) ([]Finding, error) {
	c, err := newChecker(dir, openSearchYML, now, opts)
	if err != nil {
		return nil, err
	}
	c.node = nodetls.ReadOpenSearch(dir, c.settings)
	c.checkOpenSearchPlugin()
	c.checkOpenSearchLayers()
	for _, l := range c.tlsConfigs() {
		c.checkTLS(l)
		c.checkPKCS8(l)
	}
	c.checkNodesDN()
	c.checkDemo()
	procs, _ := elasticsearchProcesses(opts.Proc)
	c.checkModes(resolveIdentity(opts.Elasticsearch, "opensearch", procs, info))
	if c.fatal != nil {
		return nil, c.fatal
	}
	return Merge(c.findings), nil
}

// checkOpenSearchPlugin: the security plugin is installed and not disabled.
func (c *checker) checkOpenSearchPlugin() {
	const key = "plugins.security.disabled"
	if v, _ := c.value(key); v == "true" {
		c.addSetting(Problem, "security-disabled", key,
			"the security plugin is disabled: no authentication, no authorization and no TLS, so anyone who reaches the node can read and change all data",
			"remove plugins.security.disabled and install escert's block (escert bootstrap --target opensearch, then escert install)")
	}
	if info, err := os.Stat(filepath.Join(c.dir, ossecurity.Dir)); err != nil || !info.IsDir() {
		c.add(Problem, "security-plugin-missing", c.display(filepath.Join(c.dir, ossecurity.Dir)), 0, "",
			"the security plugin's configuration directory is missing: the plugin is not installed, so the node has no TLS or authentication",
			"bin/opensearch-plugin install opensearch-security, then escert install")
	}
}

// checkOpenSearchLayers: the plugin's transport TLS needs a certificate; HTTPS needs
// plugins.security.ssl.http.enabled.
func (c *checker) checkOpenSearchLayers() {
	for _, l := range c.node.Layers {
		if l.Enabled && (l.Certificate != nil || l.Keystore != nil) {
			continue
		}
		key := l.Keys.Enabled
		if l.Name == esconfig.Transport {
			key = l.Keys.Certificate
		}
		c.addSetting(Problem, l.Name+"-tls-disabled", key,
			fmt.Sprintf("TLS is not configured on the %s layer: %s", layerName[l.Name], layerRisk[l.Name]),
			"install escert's block (escert bootstrap --target opensearch, then escert install)")
	}
}

// checkPKCS8: OpenSearch 2.9 and later read PKCS#8 keys only, and stop at a PKCS#1
// or SEC 1 one with "algid parse error".
func (c *checker) checkPKCS8(l nodetls.Layer) {
	if l.Key == nil {
		return
	}
	data, ok := c.read(*l.Key, true)
	if !ok {
		return
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type == "PRIVATE KEY" || block.Type == "ENCRYPTED PRIVATE KEY" {
		return
	}
	c.add(Problem, "key-not-pkcs8", c.display(l.Key.Path), 0, l.Key.Setting,
		fmt.Sprintf("the key is %s, which OpenSearch 2.9 and later refuse (\"algid parse error\"): they read PKCS#8 keys only", block.Type),
		"convert it: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8, or issue a new one with escert")
}

// checkNodesDN: nodes_dn names this node's transport certificate, and admin_dn is
// set and names no node: the plugin treats a transport peer outside nodes_dn as a
// client, so a node whose own DN is missing cannot join, and a node certificate
// that is also admin would let any node rewrite the security index.
func (c *checker) checkNodesDN() {
	const nodesKey, adminKey = "plugins.security.nodes_dn", "plugins.security.authcz.admin_dn"
	nodes, admins := c.settings.List(nodesKey), c.settings.List(adminKey)
	if len(admins) == 0 {
		c.addSetting(Warning, "admin-dn-missing", adminKey,
			"no admin certificate DN is set: securityadmin.sh cannot change the security configuration",
			"set plugins.security.authcz.admin_dn to the admin certificate's DN (escert bootstrap --target opensearch writes one)")
	}
	transport := c.node.Layer(esconfig.Transport)
	if len(nodes) == 0 {
		c.addSetting(Problem, "nodes-dn-missing", nodesKey,
			"plugins.security.nodes_dn is not set: the other nodes' transport requests are refused, or with a node certificate OID any certificate of the CA passes as a node",
			"set plugins.security.nodes_dn to the node certificates' DNs (escert's block does)")
	}
	if transport.Certificate == nil {
		return
	}
	chain := c.loadCerts(*transport.Certificate)
	if len(chain) == 0 {
		return
	}
	dn := ca.FormatDNAsJava(chain[0].RawSubject)
	if len(nodes) > 0 && !matchesAnyDN(nodes, dn) {
		c.addSetting(Problem, "nodes-dn-mismatch", nodesKey,
			fmt.Sprintf("plugins.security.nodes_dn does not name this node's transport certificate %q (as the plugin reads it, RFC 2253 in the certificate's own order): the other nodes refuse its requests", dn),
			fmt.Sprintf("add %q to plugins.security.nodes_dn on every node", dn))
	}
	if matchesAnyDN(admins, dn) {
		c.addSetting(Problem, "admin-dn-is-node", adminKey,
			fmt.Sprintf("plugins.security.authcz.admin_dn names this node's transport certificate %q: whoever holds a node's key administers the cluster's security", dn),
			"give the admin its own certificate and DN (escert bootstrap --target opensearch writes one)")
	}
}

// matchesAnyDN matches a DN as the plugin's WildcardMatcher does: /regex/, a
// pattern with * and ?, or the exact string.
func matchesAnyDN(patterns []string, dn string) bool {
	for _, p := range patterns {
		var re string
		switch {
		case len(p) > 1 && strings.HasPrefix(p, "/") && strings.HasSuffix(p, "/"):
			re = "^(?:" + p[1:len(p)-1] + ")$"
		case strings.ContainsAny(p, "*?"):
			re = "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(p)) + "$"
		default:
			if p == dn {
				return true
			}
			continue
		}
		if m, err := regexp.Compile(re); err == nil && m.MatchString(dn) {
			return true
		}
	}
	return false
}

// checkDemo: the demo certificates (their keys are public) in the config directory
// or named by the settings, the demo flag that lets the plugin use them, and demo
// password hashes in internal_users.yml, which the security index is made from.
func (c *checker) checkDemo() {
	const allowDemo = "plugins.security.allow_unsafe_democertificates"
	if v, _ := c.value(allowDemo); v == "true" {
		c.addSetting(Problem, "demo-certificates", allowDemo,
			"the plugin is told to accept its demo certificates, whose private keys are published with it",
			"remove the setting and install escert's certificates (escert bootstrap --target opensearch, then escert install)")
	}
	for _, name := range ossecurity.DemoFiles {
		path := filepath.Join(c.dir, name)
		if _, err := os.Stat(path); err == nil {
			c.add(Problem, "demo-certificates", c.display(path), 0, "",
				fmt.Sprintf("%s is one of the security plugin's demo certificate files, whose keys anyone can download", name),
				"install escert's certificates, then delete the demo files (esnode*.pem, kirk*.pem, root-ca.pem)")
		}
	}
	usersPath := filepath.Join(c.dir, ossecurity.Dir, ossecurity.InternalUsersFile)
	data, err := infile.Read(usersPath, infile.Settings)
	if err != nil {
		return
	}
	users, err := ossecurity.UsersWithDemoHashes(data)
	if err != nil {
		c.add(Problem, "internal-users-unreadable", c.display(usersPath), 0, "", err.Error(), "fix the YAML")
		return
	}
	if len(users) > 0 {
		c.add(Problem, "demo-passwords", c.display(usersPath), 0, "",
			fmt.Sprintf("users %s have the plugin's demo password hashes (passwords everyone knows); a security index made from this file lets anyone in as them", strings.Join(users, ", ")),
			"install escert's internal_users.yml (escert bootstrap --target opensearch) and, on a running cluster, upload it with securityadmin.sh")
	}
}
