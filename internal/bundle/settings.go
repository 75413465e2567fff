package bundle

import (
	"fmt"
	"strings"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/spec"
)

// TrustRestrictionsFile is the transport trust restrictions file, beside the certificates.
const TrustRestrictionsFile = "transport-trust.yml"

// TrustRestrictions is the file xpack.security.transport.ssl.trust_restrictions.path
// names: only certificates that carry one of r's names may open a transport
// connection, whichever CA signed them.
func TrustRestrictions(cluster string, r spec.Restriction) []byte {
	what := fmt.Sprintf("naming a node of cluster %q", cluster)
	if r.Field == spec.DNSNameField {
		what = fmt.Sprintf("with a DNS name of a node of cluster %q", cluster)
	}
	quoted := make([]string, len(r.Names))
	for i, n := range r.Names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return fmt.Appendf(nil, "# Written by escert. Elasticsearch reloads this file when it changes.\n"+
		"# Only transport certificates %s may join.\n"+
		"trust.subject_name: [%s]\n", what, strings.Join(quoted, ", "))
}

// restriction is what the bundle's trust restrictions admit, when it has them.
func (opts Options) restriction() (spec.Restriction, bool) {
	switch {
	case !opts.Spec.TrustRestrictions:
		return spec.Restriction{}, false
	case opts.Restriction != nil:
		return *opts.Restriction, true
	}
	return spec.NodeNameRestriction(opts.Spec.ClusterName), true
}

// SettingsBlock is the elasticsearch.yml block that turns security and TLS on for a
// node bundle, with paths relative to the config directory.
func SettingsBlock(opts Options) string {
	var lines []string
	set := func(key, value string) { lines = append(lines, key+": "+value) }
	lines = append(lines, esconfig.BlockBegin,
		"# Managed by escert: re-running `escert install` replaces this block. Passwords are",
		"# in elasticsearch.keystore, never here.")
	set("xpack.security.enabled", "true")
	if opts.FIPS {
		// Elasticsearch's FIPS 140 mode: it checks its providers at start, needs
		// PBKDF2 password hashes, and auto-configuration would write PKCS#12 files a
		// FIPS JVM cannot read.
		set("xpack.security.fips_mode.enabled", "true")
		set("xpack.security.autoconfiguration.enabled", "false")
		set("xpack.security.authc.password_hashing.algorithm", "pbkdf2_stretch")
		if len(opts.RequiredProviders) > 0 {
			set("xpack.security.fips_mode.required_providers", yamlList(opts.RequiredProviders))
		}
	}
	for _, layer := range []string{esconfig.Transport, esconfig.HTTP} {
		prefix := esconfig.SSLPrefix(layer)
		set(prefix+"enabled", "true")
		if opts.FIPS {
			set(prefix+"supported_protocols", yamlList([]string{"TLSv1.3", "TLSv1.2"}))
			set(prefix+"cipher_suites", yamlList(esconfig.FIPSCipherSuites))
		}
		if layer == esconfig.Transport {
			set(prefix+"verification_mode", opts.TransportVerification)
			set(prefix+"client_authentication", "required")
		}
		switch opts.Format {
		case PEM:
			set(prefix+"key", "certs/"+layer+".key")
			set(prefix+"certificate", "certs/"+layer+".crt")
			set(prefix+"certificate_authorities", yamlList([]string{"certs/" + layer + "-ca.crt"}))
		default:
			set(prefix+"keystore.path", "certs/"+layer+".p12")
			if layer == esconfig.Transport {
				set(prefix+"truststore.path", "certs/"+layer+".p12")
			}
		}
		if r, ok := opts.restriction(); ok && layer == esconfig.Transport {
			set(prefix+"trust_restrictions.path", "certs/"+TrustRestrictionsFile)
			if r.Field != spec.OtherNameField {
				set(prefix+"trust_restrictions.x509_fields", yamlList([]string{r.Field}))
			}
		}
	}
	lines = append(lines, esconfig.BlockEnd)
	return strings.Join(lines, "\n") + "\n"
}

// yamlList is a flow sequence of quoted strings: [ "a", "b" ].
func yamlList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return "[ " + strings.Join(quoted, ", ") + " ]"
}
