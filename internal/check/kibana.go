package check

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/escert/escert/internal/clientconfig"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/infile"
)

// Kibana checks a kibana.yml against what the checklist asks of Kibana, the settings
// escert's client-config writes: Elasticsearch over verified HTTPS, no password in the
// file, encryption keys of Kibana's length, and session timeouts. A key or password
// kept in kibana.keystore is invisible here, so a missing encryption key is a warning
// whose fix says so. An error means the file is unusable.
func Kibana(path string) ([]Finding, error) {
	data, err := infile.Read(path, infile.Settings)
	if err != nil {
		return nil, unusable("%s: %w", path, pathErr(err))
	}
	settings, err := esconfig.Parse(data)
	if err != nil {
		return nil, unusable("%s: %w", path, err)
	}
	k := &kibanaChecker{file: filepath.Base(path), settings: settings}
	k.checkConnection()
	k.checkPassword()
	k.checkKeys()
	k.checkSessions()
	return Merge(k.findings), nil
}

type kibanaChecker struct {
	file     string
	settings esconfig.Settings
	findings []Finding
}

func (k *kibanaChecker) add(sev Severity, id, key, message, fix string) {
	k.findings = append(k.findings, Finding{Severity: sev, ID: id, File: k.file, Line: k.settings[key].Line, Setting: key, Message: message, Fix: fix})
}

// checkConnection: Kibana reaches Elasticsearch over HTTPS and checks the certificate.
func (k *kibanaChecker) checkConnection() {
	const hosts = "elasticsearch.hosts"
	for _, h := range k.settings.List(hosts) {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(h)), "http://") {
			k.add(Problem, "kibana-plain-http", hosts,
				fmt.Sprintf("Kibana connects to %s in clear text: kibana_system's password and every user's query cross the network readable", h),
				"use https:// URLs with elasticsearch.ssl.certificateAuthorities (escert client-config writes them)")
			break
		}
	}
	const mode = "elasticsearch.ssl.verificationMode"
	if v, _ := k.settings.Get(mode); strings.EqualFold(v, "none") {
		k.add(Problem, "verification-none", mode,
			"Kibana does not check Elasticsearch's certificate: anyone on the path can pose as the cluster and collect kibana_system's password",
			"set elasticsearch.ssl.verificationMode: full with the HTTP CA in elasticsearch.ssl.certificateAuthorities")
	}
}

// checkPassword: Kibana's password belongs in its keystore, and Kibana must not sign
// in as the superuser (Kibana 8 refuses to start as elastic).
func (k *kibanaChecker) checkPassword() {
	for _, key := range []string{"elasticsearch.password", "elasticsearch.serviceAccountToken"} {
		if v, _ := k.settings.Get(key); v != "" && !strings.HasPrefix(v, "${") {
			k.add(Problem, "plaintext-secret", key,
				key+" holds a secret in plain text in kibana.yml, which backups and config management copy around",
				fmt.Sprintf("remove it from kibana.yml and store it in Kibana's keystore: bin/kibana-keystore add %s", key))
		}
	}
	const user = "elasticsearch.username"
	if v, _ := k.settings.Get(user); v == "elastic" {
		k.add(Problem, "kibana-superuser", user,
			"Kibana signs in as elastic, the superuser: Kibana 8 refuses to start, and a leaked kibana.yml would give away the whole cluster",
			"set elasticsearch.username: kibana_system (escert passwords sets its password)")
	}
}

// checkKeys: the three encryption keys, at least 32 characters (Kibana refuses
// shorter ones). Without them Kibana makes new ones at every start: sessions end on a
// restart, instances behind a load balancer reject each other's cookies, and saved
// objects encrypted before become unreadable.
func (k *kibanaChecker) checkKeys() {
	for _, key := range clientconfig.KibanaKeySettings {
		v, set := k.settings.Get(key)
		switch {
		case !set || v == "":
			k.add(Warning, "kibana-encryption-key", key,
				key+" is not in kibana.yml: unless kibana.keystore holds it, Kibana makes a new one at every start, ending sessions and leaving encrypted saved objects unreadable",
				fmt.Sprintf("set it to %d or more random characters, the same on every Kibana instance (escert client-config writes all three)", clientconfig.KeyLength))
		case len(v) < clientconfig.KeyLength:
			k.add(Problem, "kibana-encryption-key", key,
				fmt.Sprintf("%s is %d characters: Kibana refuses keys under %d and does not start", key, len(v), clientconfig.KeyLength),
				fmt.Sprintf("set it to %d or more random characters", clientconfig.KeyLength))
		}
	}
}

// checkSessions: Elastic "highly recommends" both timeouts; Kibana's defaults leave an
// unattended browser signed in for days.
func (k *kibanaChecker) checkSessions() {
	for _, s := range [][2]string{
		{"xpack.security.session.idleTimeout", clientconfig.SessionIdleTimeout},
		{"xpack.security.session.lifespan", clientconfig.SessionLifespan},
	} {
		key, want := s[0], s[1]
		if v, _ := k.settings.Get(key); v == "" || v == "0" {
			k.add(Warning, "kibana-session-timeout", key,
				key+" is not set: a browser left signed in stays signed in for days",
				fmt.Sprintf("set %s: %q (escert client-config writes it)", key, want))
		}
	}
}
