package cli

import (
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/check"
)

// Seams for tests: the /proc tree and the account Elasticsearch runs as (nil: the
// machine's own).
var (
	checkProc     fs.FS
	checkIdentity *check.Identity
)

func newCheckCmd(e *env) *cobra.Command {
	var dir, kibanaFile, passFile, targetFlag string
	var cluster liveFlags
	var output outputFormat
	var warnDays int
	cmd := &cobra.Command{
		Use:   "check [--es-config DIR] [--kibana-config FILE] [--url URL --bundle DIR]",
		Short: "Check a node's security settings, files, modes and certificates against Elastic's checklist",
		Long: `Check one Elasticsearch node's security against Elastic's "secure your cluster"
checklist and print one line per finding: its severity, a stable ID, the file, line
and setting concerned, what is wrong and how to fix it. Passed checks print nothing;
a node with no findings gets a one-line "clean" summary. --kibana-config checks a
kibana.yml too (or alone).

Problems (exit 2): security or TLS off, verification_mode none, transport client
authentication none, files the settings name missing or unparsable, PKCS#12 files
or keys that do not open with the passwords in elasticsearch.keystore, keys not
matching their certificates, chains not verifying to the configured CAs, trust
restrictions the node's own certificate fails, secrets in elasticsearch.yml, key files
readable by everyone, world-writable files, an Elasticsearch process running as root,
expired certificates, a missing elasticsearch.keystore the settings need, anonymous
access (anonymous-access), http.cors.allow-origin "*" with CORS on (cors-any-origin),
and supported_protocols or cipher_suites allowing TLS below 1.2 or weak suites
(tls-old-protocol, tls-weak-cipher) on any TLS context.

Warnings (exit 1): audit logging off, certificates expiring within --warn-days,
HTTP certificates not naming network.host, http.host or http.publish_host (special
values such as _site_ and 0.0.0.0 are skipped), key files writable by their group,
config files Elasticsearch's own user could rewrite, xpack.security.enabled left to
its version-dependent default while TLS is configured, JKS stores escert cannot open,
and a node bound beyond loopback (network.host, http.host, transport.host...) with no
IP filter (ip-filter-missing: a firewall may do it, which no file shows).

In kibana.yml: Elasticsearch over http:// (kibana-plain-http), verificationMode none,
a password in the file, signing in as elastic (problems); encryption keys missing
(kibana-encryption-key: unless kibana.keystore holds them) and session timeouts unset
(kibana-session-timeout) (warnings); a key under 32 characters (a problem).

--url checks the running cluster (alone or with the files), asking what no file says:
a request without credentials must get 401 (anonymous-access when an anonymous user
answers, unauthenticated-access otherwise); elastic must no longer accept the
bootstrap password of --bundle (bootstrap-password-in-use); every node, found through
_nodes at its publish address, must refuse TLS 1.0 and 1.1 on both ports
(tls-old-protocol; in a FIPS 140 mode escert cannot offer them and says
tls-old-protocol-not-tested), serve an HTTP chain that verifies to the HTTP CA, names
its publish host and holds the CA and any intermediate (probe's chain-untrusted,
name-mismatch, ca-not-sent, chain-incomplete),
serve on both ports certificates far from expiry (cert-expiring, cert-expired) that
are the ones it loaded from its files (served-not-loaded, from _ssl/certificates), and
run with audit logging on (audit-disabled). It signs in as --user (elastic) with
--pass-file or ESCERT_PASSWORD, else with elastic's password in the bundle's
built-in-passwords, else the bootstrap password; the HTTP CA is --ca or the bundle's
clients/http-ca.crt.

Run as the user Elasticsearch runs as, it needs no more than that user may read:
escert's own backups (escert-backups/), lock and temporary files are checked when
they can be listed and skipped when not, and any other subdirectory that cannot be
listed is a warning (dir-not-checked).

The keystore password, when it has one, comes from --keystore-pass-file, the
ESCERT_KEYSTORE_PASSWORD environment variable or a prompt. Secret values are never
printed, in either output format.`,
		Example: `  # Check a package install (run as root to read the keys):
  escert check --es-config /etc/elasticsearch

  # In a script, warn 60 days before certificates expire, as JSON:
  escert check --es-config /etc/elasticsearch --warn-days 60 -o json

  # The Kibana settings too:
  escert check --es-config /etc/elasticsearch --kibana-config /etc/kibana/kibana.yml

  # The running cluster, with the bundle's CA and passwords:
  escert check --url https://node1.example.com:9200 --bundle escert-out

  # A password-protected elasticsearch.keystore:
  escert check --es-config /etc/elasticsearch --keystore-pass-file /root/es-keystore.pass`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" && kibanaFile == "" && cluster.url == "" {
				return usagef("give --es-config DIR, --kibana-config FILE, --url URL, or several")
			}
			if warnDays < 0 {
				return usagef("--warn-days %d: must be 0 or more", warnDays)
			}
			var findings []check.Finding
			var checked []string
			if dir != "" {
				if err := checkTargetFlag(cmd, targetFlag, dir); err != nil {
					return err
				}
				password := func(keystore []byte) ([]byte, error) { return keystorePassword(e, passFile, keystore) }
				node, err := check.Node(dir, password, e.now(), check.Options{WarnDays: warnDays, Proc: checkProc, Elasticsearch: checkIdentity})
				if err != nil {
					return err
				}
				findings, checked = append(findings, node...), append(checked, dir)
			}
			if kibanaFile != "" {
				kibana, err := check.Kibana(kibanaFile)
				if err != nil {
					return err
				}
				findings, checked = check.Merge(findings, kibana), append(checked, kibanaFile)
			}
			if cluster.url != "" {
				found, err := liveCheck(cmd.Context(), e, cluster, warnDays)
				if err != nil {
					return err
				}
				findings, checked = check.Merge(findings, found), append(checked, cluster.url)
			}
			if output == "json" {
				if err := printJSON(cmd.OutOrStdout(), check.NewReport(findings)); err != nil {
					return err
				}
			} else {
				check.Render(cmd.OutOrStdout(), strings.Join(checked, " and "), findings)
			}
			// The findings are the message: exit with their code and print nothing more.
			switch problems, warnings := check.Count(findings); {
			case problems > 0:
				return silentOutcome(2)
			case warnings > 0:
				return silentOutcome(1)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "es-config", "", "the node's config directory, holding elasticsearch.yml or opensearch.yml (e.g. /etc/elasticsearch, /etc/opensearch)")
	targetFlagVar(cmd.Flags(), &targetFlag)
	cmd.Flags().StringVar(&kibanaFile, "kibana-config", "", "a kibana.yml to check as well (e.g. /etc/kibana/kibana.yml)")
	outputFlag(cmd.Flags(), &output, "text or json")
	cmd.Flags().IntVar(&warnDays, "warn-days", 30, "warn about certificates expiring within this many days")
	cmd.Flags().StringVar(&passFile, "keystore-pass-file", "", "file holding the elasticsearch.keystore password (or set ESCERT_KEYSTORE_PASSWORD)")
	cluster.register(cmd)
	return withExit(cmd, checkContract)
}
