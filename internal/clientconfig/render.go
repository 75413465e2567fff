package clientconfig

import (
	"fmt"
	"path"
	"strings"

	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/ossecurity"
	"github.com/escert/escert/internal/passwords"
)

// Where the settings expect their files on the client hosts. Kibana and Logstash
// resolve relative paths against their working directory, so these are absolute: the
// config directories of the deb and rpm packages. Beats expand ${path.config}.
const (
	KibanaCertDir   = "/etc/kibana/certs"
	LogstashCertDir = "/etc/logstash/certs"
	BeatsCertDir    = "${path.config}/certs"
)

// Session lifetimes for kibana.yml. Elastic "highly recommends" setting both; Kibana's
// defaults (3 days idle, 30 days in all) leave an unattended browser signed in for days.
const (
	SessionIdleTimeout = "1h"
	SessionLifespan    = "30d"
)

// settings renders the files from the values they share.
type settings struct {
	hosts       []string
	fingerprint string
}

// keystoreCommands are how each built-in user's client stores the password in its own
// keystore. logstash-keystore reads a piped value without --stdin; given --stdin,
// Logstash 8.12 took it for the key's name (elastic/logstash#15724).
var keystoreCommands = map[string]string{
	"kibana_system":   "bin/kibana-keystore add elasticsearch.password --stdin",
	"beats_system":    "filebeat keystore add BEATS_SYSTEM_PASSWORD --stdin",
	"logstash_system": "bin/logstash-keystore add LOGSTASH_SYSTEM_PASSWORD",
}

// KeystoreLine is the shell line that moves user's password from the passwords file
// into its client's keystore, so the password is never typed or on a command line.
func KeystoreLine(passwordsFile, user string) string {
	return fmt.Sprintf("sed -n 's/^%s=//p' %s | %s", user, shellQuote(passwordsFile), keystoreCommands[user])
}

// passwordLines explain where user's password comes from, as comment lines. The line
// names the file relative to the bundle, so every writer of these files writes the
// same bytes.
func passwordLines(t *text, user, client string) {
	t.line("# %s signs in as the built-in %s user, with its password from its own keystore,", client, user)
	t.line("# never from this file. `escert passwords --bundle DIR` sets the password and keeps it in")
	t.line("# DIR/%s; then, on the %s host, in a copy of DIR:", passwords.File, client)
	t.line("#   %s", KeystoreLine(passwords.File, user))
}

// text collects the lines of one file.
type text struct{ b strings.Builder }

func (t *text) line(format string, args ...any) {
	fmt.Fprintf(&t.b, format, args...)
	t.b.WriteByte('\n')
}

func (t *text) set(key, value string) { t.line("%s: %s", key, value) }

func (t *text) String() string { return t.b.String() }

// kibana renders kibana.yml for one Kibana instance of the bundle, or for a Kibana the
// bundle made no certificate for (inst nil).
func (s settings) kibana(inst *manifest.InstanceInfo, keys []kibanaKey) string {
	var t text
	file := func(name string) string { return yamlString(path.Join(KibanaCertDir, name)) }
	t.line("# Written by escert: merge into kibana.yml, replacing any setting of the same name.")
	t.line("# It holds Kibana's encryption keys: keep it mode 0600, readable by Kibana only.")
	t.line("#")
	if inst != nil {
		t.line("# Copy the bundle's %s/ (instance %s) to %s/ on the Kibana host,", inst.Dir, inst.Name, KibanaCertDir)
	} else {
		t.line("# Copy the bundle's %s/http-ca.crt to %s/ on the Kibana host,", Dir, KibanaCertDir)
	}
	t.line("# or change the paths below (/etc/kibana is the deb and rpm packages' config directory).")
	t.line("")
	t.line("# Elasticsearch over HTTPS, each node's certificate and host name verified against")
	t.line("# the HTTP CA.")
	t.set("elasticsearch.hosts", yamlList(s.hosts))
	t.set("elasticsearch.ssl.certificateAuthorities", "["+file("http-ca.crt")+"]")
	t.set("elasticsearch.ssl.verificationMode", "full")
	t.line("")
	passwordLines(&t, "kibana_system", "Kibana")
	t.set("elasticsearch.username", "kibana_system")
	if inst != nil {
		if crt, key, ok := pemFiles(inst, "client"); ok {
			t.line("")
			t.line("# Kibana's client certificate (client_auth). Elasticsearch asks for it only with")
			t.line("# xpack.security.http.ssl.client_authentication: optional or required; Kibana still")
			t.line("# signs in as kibana_system unless a PKI realm maps the certificate.")
			t.set("elasticsearch.ssl.certificate", file(crt))
			t.set("elasticsearch.ssl.key", file(key))
		}
		if crt, key, ok := pemFiles(inst, "server"); ok {
			t.line("")
			t.line("# Kibana's own HTTPS, with its certificate from the HTTP CA (browsers must trust")
			t.line("# http-ca.crt). PEM files, not PKCS#12: Kibana reads PKCS#12 through node-forge,")
			t.line("# which cannot read EC keys.")
			t.set("server.ssl.enabled", "true")
			t.set("server.ssl.certificate", file(crt))
			t.set("server.ssl.key", file(key))
		}
	}
	t.line("")
	t.line("# Encryption keys, %d random characters each. Every Kibana instance of the deployment", KeyLength)
	t.line("# needs the same three. Keep them: a new xpack.encryptedSavedObjects.encryptionKey leaves")
	t.line("# encrypted saved objects (alerting rules, connectors) unreadable; rotate it through")
	t.line("# xpack.encryptedSavedObjects.keyRotation.decryptionOnlyKeys instead.")
	t.line("# `escert client-config --force` keeps the keys of the kibana.yml it replaces.")
	for _, k := range keys {
		t.set(k.setting, yamlString(k.value))
	}
	t.line("")
	t.line("# Sessions end after %s without activity and after %s in any case.", SessionIdleTimeout, SessionLifespan)
	t.set("xpack.security.session.idleTimeout", yamlString(SessionIdleTimeout))
	t.set("xpack.security.session.lifespan", yamlString(SessionLifespan))
	return t.String()
}

// pemFiles returns the base names of the PEM certificate and key of the instance's
// certificate called name.
func pemFiles(i *manifest.InstanceInfo, name string) (crt, key string, ok bool) {
	for _, c := range i.Certificates {
		if c.Name != name {
			continue
		}
		for _, f := range c.Files {
			switch path.Ext(f) {
			case ".crt":
				crt = path.Base(f)
			case ".key":
				key = path.Base(f)
			}
		}
	}
	return crt, key, crt != "" && key != ""
}

// beats renders the Elasticsearch output of a Beat.
func (s settings) beats() string {
	var t text
	const p = "output.elasticsearch."
	t.line("# Written by escert: the Elasticsearch output of a Beat (Filebeat, Metricbeat, ...).")
	t.line("# Merge into its configuration, e.g. /etc/filebeat/filebeat.yml, replacing any other")
	t.line("# output.elasticsearch settings. Copy the bundle's %s/http-ca.crt to the Beat's config", Dir)
	t.line("# directory as certs/http-ca.crt (${path.config} is that directory).")
	t.set(p+"hosts", yamlList(s.hosts))
	t.set(p+"protocol", "https")
	t.set(p+"ssl.certificate_authorities", "["+yamlString(BeatsCertDir+"/http-ca.crt")+"]")
	t.set(p+"ssl.verification_mode", "full")
	t.line("# The HTTP CA's SHA-256 (64 hex characters, no colons). A Beat trusts the CA with this")
	t.line("# fingerprint when the node sends it in its chain, which escert's nodes do: their HTTP")
	t.line("# certificates are served as leaf + CA. It can replace certificate_authorities where")
	t.line("# copying http-ca.crt is impractical.")
	t.set(p+"ssl.ca_trusted_fingerprint", yamlString(s.fingerprint))
	t.line("# Credentials come from the Beat's keystore, never from this file, e.g. an API key:")
	t.line("#   filebeat keystore add ES_API_KEY      (value: id:api_key)")
	t.line("#%s %s", p+"api_key:", yamlString("${ES_API_KEY}"))
	t.line("#")
	t.line("# Elastic Agent: a standalone agent takes the same ssl.* settings under outputs.default;")
	t.line("# in Fleet, paste the fingerprint into the output's \"Elasticsearch CA trusted fingerprint\".")
	t.line("")
	t.line("# Monitoring of the Beat itself, sent to the cluster over the same verified HTTPS.")
	passwordLines(&t, "beats_system", "Beat")
	const m = "monitoring.elasticsearch."
	t.set("monitoring.enabled", "true")
	t.set(m+"hosts", yamlList(s.hosts))
	t.set(m+"protocol", "https")
	t.set(m+"username", "beats_system")
	t.set(m+"password", yamlString("${BEATS_SYSTEM_PASSWORD}"))
	t.set(m+"ssl.certificate_authorities", "["+yamlString(BeatsCertDir+"/http-ca.crt")+"]")
	t.set(m+"ssl.verification_mode", "full")
	return t.String()
}

// logstashMonitoring renders the monitoring connection of logstash.yml: Logstash
// reporting its own metrics as the built-in logstash_system user.
func (s settings) logstashMonitoring() string {
	var t text
	const m = "xpack.monitoring.elasticsearch."
	t.line("# Written by escert: merge into logstash.yml (/etc/logstash/logstash.yml in the packages)")
	t.line("# to send Logstash's own monitoring data to the cluster over verified HTTPS. Copy the")
	t.line("# bundle's %s/http-ca.crt to %s/http-ca.crt.", Dir, LogstashCertDir)
	passwordLines(&t, "logstash_system", "Logstash")
	t.set("xpack.monitoring.enabled", "true")
	t.set(m+"hosts", yamlList(s.hosts))
	t.set(m+"username", "logstash_system")
	t.set(m+"password", yamlString("${LOGSTASH_SYSTEM_PASSWORD}"))
	t.set(m+"ssl.certificate_authority", yamlString(LogstashCertDir+"/http-ca.crt"))
	t.set(m+"ssl.verification_mode", "full")
	return t.String()
}

// logstash renders the elasticsearch output of a Logstash pipeline, with the option
// names of the plugin shipped since Logstash 8.x (ssl_enabled, ssl_certificate_authorities
// and ssl_verification_mode replaced ssl, cacert and ssl_certificate_verification).
func (s settings) logstash() string {
	var t text
	quoted := make([]string, len(s.hosts))
	for i, h := range s.hosts {
		quoted[i] = logstashString(h)
	}
	t.line("# Written by escert: the elasticsearch output of a Logstash pipeline (e.g. in")
	t.line("# /etc/logstash/conf.d/), with the option names of Logstash 8.x and later. Copy the")
	t.line("# bundle's %s/http-ca.crt to %s/http-ca.crt.", Dir, LogstashCertDir)
	t.line("output {")
	t.line("  elasticsearch {")
	t.line("    hosts => [%s]", strings.Join(quoted, ", "))
	t.line("    ssl_enabled => true")
	t.line("    ssl_certificate_authorities => [%s]", logstashString(LogstashCertDir+"/http-ca.crt"))
	t.line("    ssl_verification_mode => \"full\"")
	t.line("    # The HTTP CA's SHA-256: trusted when a node sends the CA in its chain, which escert's")
	t.line("    # nodes do (leaf + CA).")
	t.line("    ca_trusted_fingerprint => %s", logstashString(s.fingerprint))
	t.line("    # Credentials come from the Logstash keystore, never from this file:")
	t.line("    #   bin/logstash-keystore add ES_API_KEY      (value: id:api_key)")
	t.line("    # api_key => \"${ES_API_KEY}\"")
	t.line("  }")
	t.line("}")
	return t.String()
}

// logstashString quotes a value for the pipeline syntax. Logstash does not process
// escapes by default, so a value must not contain the quote; the URLs and paths here
// cannot (URLs are percent-encoded).
func logstashString(s string) string { return `"` + strings.ReplaceAll(s, `"`, "%22") + `"` }

// curl renders a script that proves the first host's certificate verifies.
func (s settings) curl(user string) string {
	var t text
	cmd := func(host string) string {
		u := host
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		glob := ""
		if strings.Contains(u, "[") {
			glob = "-g " // an IPv6 literal, not a curl glob
		}
		return "curl --cacert http-ca.crt -u " + user + " " + glob + `"$@" ` + shellQuote(u)
	}
	t.line("#!/bin/sh")
	if user == ossecurity.Admin {
		t.line("# Written by escert: checks that OpenSearch answers over HTTPS with a certificate")
		t.line("# that verifies against the HTTP CA for the host name clients use. curl asks for the")
		t.line("# admin user's password (the bundle's %s, line admin=),", passwords.File)
	} else {
		t.line("# Written by escert: checks that Elasticsearch answers over HTTPS with a certificate")
		t.line("# that verifies against the HTTP CA for the host name clients use. curl asks for the")
		t.line("# elastic user's password (on a new cluster, the bundle's elastic-bootstrap-password),")
	}
	t.line("# so it is never on a command line. Extra arguments go to curl, e.g.: sh curl.sh -s")
	t.line("#")
	t.line("# By hand, from this directory:")
	t.line("#   %s", strings.Replace(cmd(s.hosts[0]), `"$@" `, "", 1))
	for _, h := range s.hosts[1:] {
		t.line("#   %s", strings.Replace(cmd(h), `"$@" `, "", 1))
	}
	t.line(`cd "$(dirname "$0")" || exit 1`)
	t.line("exec %s", cmd(s.hosts[0]))
	return t.String()
}

// shellQuote leaves a word alone when sh would not change it, else single-quotes it.
func shellQuote(s string) string {
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~:/@%+=,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// OpenSearch Dashboards' deb and rpm packages' config directory.
const DashboardsCertDir = "/etc/opensearch-dashboards/certs"

// dashboards renders opensearch_dashboards.yml: OpenSearch over verified HTTPS,
// signed in as kibanaserver, whose password goes into Dashboards' own keystore.
func (s settings) dashboards() string {
	var t text
	t.line("# Written by escert: merge into opensearch_dashboards.yml, replacing any setting of the")
	t.line("# same name. Copy the bundle's %s/http-ca.crt to %s/ on the Dashboards host,", Dir, DashboardsCertDir)
	t.line("# or change the path below.")
	t.line("")
	t.line("# OpenSearch over HTTPS, each node's certificate and host name verified against the HTTP CA.")
	t.set("opensearch.hosts", yamlList(s.hosts))
	t.set("opensearch.ssl.certificateAuthorities", "["+yamlString(path.Join(DashboardsCertDir, "http-ca.crt"))+"]")
	t.set("opensearch.ssl.verificationMode", "full")
	t.line("")
	t.line("# Dashboards signs in as the internal user %s, with its password from its own", ossecurity.KibanaServer)
	t.line("# keystore, never from this file. The password is in the bundle's %s; on the", passwords.File)
	t.line("# Dashboards host, in a copy of the bundle:")
	t.line("#   sed -n 's/^%s=//p' %s | bin/opensearch-dashboards-keystore add opensearch.password --stdin", ossecurity.KibanaServer, passwords.File)
	t.set("opensearch.username", ossecurity.KibanaServer)
	t.set("opensearch.requestHeadersAllowlist", "[authorization, securitytenant]")
	return t.String()
}

// AdminDir is where a bootstrap writes the OpenSearch admin certificate and key.
const AdminDir = "admin"

// SecurityAdminCommand is the securityadmin.sh line, run from a node's OpenSearch
// home, that uploads the security configuration in configDir/opensearch-security to
// cluster through the node at host, for a bundle in out. It verifies the node's
// HTTPS certificate and host name against the bundle's HTTP CA (no -nhnv), checks the
// cluster's name (no -icl), and signs in with the admin certificate.
func SecurityAdminCommand(out, configDir, cluster, host string) string {
	return fmt.Sprintf("plugins/opensearch-security/tools/securityadmin.sh -cd %s -cn %s -cacert %s -cert %s -key %s -h %s -p 9200",
		shellQuote(path.Join(configDir, "opensearch-security")), shellQuote(cluster), shellQuote(path.Join(out, Dir, "http-ca.crt")),
		shellQuote(path.Join(out, AdminDir, "admin.crt")), shellQuote(path.Join(out, AdminDir, "admin.key")), shellQuote(host))
}

// ReloadCertsCommand is the curl line that has an OpenSearch node before 2.19 reload
// a layer's certificate and CA files: PUT _plugins/_security/api/ssl/<layer>/reloadcerts,
// which plugins.security.ssl_cert_reload_enabled opens to the admin certificate. It
// signs in with the admin certificate of a bundle in out and verifies the node
// against the bundle's HTTP CA and host name.
func ReloadCertsCommand(out, layer, host string) string {
	return fmt.Sprintf("curl --fail --cacert %s --cert %s --key %s -X PUT %s",
		shellQuote(path.Join(out, Dir, "http-ca.crt")), shellQuote(path.Join(out, AdminDir, "admin.crt")), shellQuote(path.Join(out, AdminDir, "admin.key")),
		shellQuote("https://"+host+":9200/_plugins/_security/api/ssl/"+layer+"/reloadcerts"))
}
