package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
	"github.com/escert/escert/internal/target"
)

// keyFlags choose the key of every certificate (and CA) escert generates.
type keyFlags struct {
	keyType string
	keySize int
	curve   string
	caDays  int
}

// esVersionFormats is which keystore format each Elasticsearch version reads, for
// every --es-version flag's help (eskeystore.VersionFor decides).
const esVersionFormats = "7.x: 4, 8.0-8.13: 5, 8.14-8.17: 6, 8.18+ and 9.x: 7"

func (f *keyFlags) register(fs *pflag.FlagSet) {
	f.registerKey(fs)
	fs.IntVar(&f.caDays, "ca-days", 3650, "CA lifetime in days")
}

// registerKey adds the key flags alone, for commands that make no CA.
func (f *keyFlags) registerKey(fs *pflag.FlagSet) {
	fs.StringVar(&f.keyType, "key-type", "ecdsa", "key type: ecdsa or rsa")
	fs.IntVar(&f.keySize, "key-size", 0, "RSA key size: 2048, 3072 or 4096 (default 3072)")
	fs.StringVar(&f.curve, "curve", "P-256", "ECDSA curve: P-256 or P-384")
}

func (f *keyFlags) spec(policy fips.Policy) (fips.KeySpec, error) {
	k, err := policy.ParseKeySpec(f.keyType, f.keySize, f.curve)
	if err != nil {
		return k, fault.Mark(fault.Usage, err)
	}
	return k, nil
}

// issueFlags shape the node bundles of bootstrap and cert.
type issueFlags struct {
	keyFlags
	format           string
	days             int
	cluster          string
	noTrust          bool
	noLocalhost      bool
	transportVerify  string
	esVersion        string
	keystorePassFile string
	caPassFile       string
	quiet            bool
	force            bool
	fips             bool
	fipsGeneration   string
	target           string
	osVersion        string
	flags            *pflag.FlagSet
}

func (f *issueFlags) register(fs *pflag.FlagSet) {
	f.flags = fs
	f.keyFlags.register(fs)
	fs.StringVar(&f.format, "format", "p12", "node key material: p12 (one PKCS#12 per layer) or pem (the only format under --fips)")
	fs.BoolVar(&f.fips, "fips", false, "FIPS 140 output for a FIPS-mode Elasticsearch: PEM only, keystore and CA passwords of 14+ bytes, fips_mode settings (implied by a FIPS build)")
	fs.StringVar(&f.fipsGeneration, "fips-generation", "", "under FIPS, the BouncyCastle FIPS generation the nodes run, which required_providers names: 140-3 (bc-fips 2.x, Elasticsearch 9.4+) or 140-2 (bc-fips 1.x) (default: 140-3 for --es-version 9.4+, else 140-2)")
	fs.IntVar(&f.days, "days", 365, "certificate lifetime in days")
	fs.StringVar(&f.cluster, "cluster-name", "elasticsearch", "cluster.name, used in the transport trust pattern *.node.<name>")
	fs.BoolVar(&f.noTrust, "no-trust-restrictions", false, "do not restrict the transport layer to this cluster's node certificates")
	fs.BoolVar(&f.noLocalhost, "no-localhost", false, "leave localhost, 127.0.0.1 and ::1 out of HTTP certificates")
	fs.StringVar(&f.transportVerify, "transport-verification", "certificate", "transport verification_mode: certificate (chain + trust restrictions, as ECK) or full (also host names)")
	fs.StringVar(&f.esVersion, "es-version", "8.14", "target Elasticsearch version; picks the elasticsearch.keystore format ("+esVersionFormats+")")
	fs.StringVar(&f.keystorePassFile, "keystore-pass-file", "", "file holding the elasticsearch.keystore password (default: no password, like Elasticsearch)")
	fs.StringVar(&f.caPassFile, "ca-pass-file", "", "file holding the CA key passphrase (or set ESCERT_CA_PASSWORD)")
	quietFlag(fs, &f.quiet)
	fs.BoolVar(&f.force, "force", false, "replace a non-empty --out (the old one is kept as <out>.bak-<time>)")
	fs.StringVar(&f.target, "target", "elasticsearch", "the engine the nodes run: elasticsearch or opensearch (PEM files, an opensearch.yml block, internal users and an admin certificate)")
	fs.StringVar(&f.osVersion, "os-version", "2.19", "with --target opensearch, the OpenSearch version the nodes run; picks the settings' spellings (2.19+: certificate hot reload)")
}

// openSearchDefaultCluster is cluster.name's default in opensearch.yml.
const openSearchDefaultCluster = "opensearch"

func (f *issueFlags) options(e *env, policy fips.Policy) (bundle.Options, error) {
	key, err := f.spec(policy)
	if err != nil {
		return bundle.Options{}, err
	}
	tgt, err := target.Parse(f.target)
	if err != nil {
		return bundle.Options{}, usagef("--target %w", err)
	}
	format := bundle.Format(strings.ToLower(f.format))
	if format != bundle.P12 && format != bundle.PEM {
		return bundle.Options{}, usagef("--format %q: use p12 or pem", f.format)
	}
	if policy.FIPS {
		if format == bundle.P12 && f.flags.Changed("format") {
			return bundle.Options{}, fault.Mark(fault.Usage, errors.New("--format p12 is not allowed in FIPS mode: a FIPS JVM decrypts PKCS#12 outside its FIPS module; use --format pem (the default under --fips)"))
		}
		format = bundle.PEM
	}
	if f.transportVerify != "certificate" && f.transportVerify != "full" {
		return bundle.Options{}, usagef("--transport-verification %q: use certificate or full", f.transportVerify)
	}
	if f.days < 1 || f.caDays < 1 {
		return bundle.Options{}, usagef("--days and --ca-days must be at least 1")
	}
	if err := spec.CheckClusterName(f.cluster); err != nil {
		return bundle.Options{}, usagef("--cluster-name: %w", err)
	}
	version, err := eskeystore.VersionFor(f.esVersion)
	if err != nil {
		return bundle.Options{}, usagef("--es-version: %w", err)
	}
	providers, err := f.requiredProviders(policy)
	if err != nil {
		return bundle.Options{}, err
	}
	if tgt != target.OpenSearch && f.flags.Changed("os-version") {
		return bundle.Options{}, usagef("--os-version needs --target opensearch")
	}
	cluster := f.cluster
	var osVersion esconfig.Version
	if tgt == target.OpenSearch {
		if format, osVersion, err = f.openSearch(policy); err != nil {
			return bundle.Options{}, err
		}
		if !f.flags.Changed("cluster-name") {
			cluster = openSearchDefaultCluster
		}
	}
	ksPass, err := readSecret(e, f.keystorePassFile, "ESCERT_KEYSTORE_PASSWORD", "--keystore-pass-file")
	if err != nil {
		return bundle.Options{}, err
	}
	if err := policy.CheckPassword("keystore password", "--keystore-pass-file or ESCERT_KEYSTORE_PASSWORD", ksPass); err != nil {
		return bundle.Options{}, fault.Mark(fault.Usage, err)
	}
	return bundle.Options{
		Format: format,
		Key:    key,
		Policy: policy,
		// OpenSearch has no trust restrictions: plugins.security.nodes_dn does their job.
		Spec:                  spec.Options{ClusterName: cluster, TrustRestrictions: !f.noTrust && tgt == target.Elasticsearch, Localhost: !f.noLocalhost, Days: f.days, KeepSubject: tgt == target.OpenSearch},
		KeystoreVersion:       version,
		KeystorePassword:      ksPass,
		TransportVerification: f.transportVerify,
		Rand:                  e.rand,
		Now:                   e.now,
		Version:               Version,
		FIPS:                  policy.FIPS,
		RequiredProviders:     providers,
		Target:                tgt,
		OpenSearchVersion:     osVersion,
	}, nil
}

// openSearch checks the flags of an OpenSearch bundle: PEM (the plugin's PKCS#8
// files; its keystore settings would need passwords in opensearch.yml), and no FIPS
// build, whose policy would refuse the bcrypt hashes internal_users.yml needs.
func (f *issueFlags) openSearch(policy fips.Policy) (format bundle.Format, version esconfig.Version, err error) {
	if policy.FIPS {
		return "", version, usagef("--target opensearch is not available in FIPS mode: the security plugin's internal users need bcrypt hashes, which FIPS 140 does not approve")
	}
	if f.flags.Changed("format") && !strings.EqualFold(f.format, string(bundle.PEM)) {
		return "", version, usagef("--format %s: OpenSearch bundles are PEM files (PKCS#8 keys); drop --format", f.format)
	}
	for _, name := range []string{"es-version", "keystore-pass-file"} {
		if f.flags.Lookup(name) != nil && f.flags.Changed(name) {
			return "", version, usagef("--%s is for Elasticsearch: OpenSearch nodes have no elasticsearch.keystore or trust restrictions", name)
		}
	}
	if version, err = esconfig.ParseVersion(f.osVersion); err != nil {
		return "", version, usagef("--os-version: %w", err)
	}
	if !version.AtLeast(2, 9, 0) {
		return "", version, usagef("--os-version %s: escert supports OpenSearch 2.9 and later", f.osVersion)
	}
	return bundle.PEM, version, nil
}

// requiredProviders are the FIPS providers the block makes the nodes require: those
// of --fips-generation, by default the generation --es-version runs best.
func (f *issueFlags) requiredProviders(policy fips.Policy) ([]string, error) {
	if !policy.FIPS {
		if f.flags.Changed("fips-generation") {
			return nil, usagef("--fips-generation needs --fips (or a FIPS build)")
		}
		return nil, nil
	}
	version, err := esconfig.ParseVersion(f.esVersion)
	if err != nil {
		return nil, usagef("--es-version: %w", err)
	}
	generation := esconfig.DefaultFIPSGeneration(version)
	if f.fipsGeneration != "" {
		if generation, err = esconfig.ParseFIPSGeneration(f.fipsGeneration); err != nil {
			return nil, usagef("--fips-generation %w", err)
		}
	}
	if err := esconfig.CheckFIPSGeneration(version, generation); err != nil {
		return nil, usagef("--fips-generation: %w", err)
	}
	return esconfig.RequiredProviders(version, generation), nil
}

// secretEnv are the environment variables readSecret takes secrets from: what a
// command escert runs (renew --exec) must not inherit.
var secretEnv = []string{"ESCERT_CA_PASSWORD", "ESCERT_KEYSTORE_PASSWORD", "ESCERT_KEYSTORE_NEW_PASSWORD", "ESCERT_PASSWORD", "ESCERT_PROVISIONER_PASSWORD"}

// readSecret reads a secret from a file (trailing newline removed) or else from the
// environment variable envName. Secrets never come from flag values, which other
// users can read in the process list.
func readSecret(e *env, file, envName, flag string) ([]byte, error) {
	if file != "" {
		data, err := infile.Read(file, infile.Secret)
		if err != nil {
			return nil, badInput("%s %s: %v", flag, file, unwrapPathError(err))
		}
		secret := []byte(strings.TrimRight(string(data), "\r\n"))
		if len(secret) == 0 {
			return nil, badInput("%s %s: the file is empty: write the passphrase into it", flag, file)
		}
		return secret, nil
	}
	if envName != "" {
		if v := e.getenv(envName); v != "" {
			return []byte(v), nil
		}
	}
	return nil, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// adoptClusterName makes nodes issued from existing CAs carry the node name the
// cluster's trust restrictions expect: the cluster name recorded in the CA wins
// unless --cluster-name was given, and a mismatch is pointed out.
func adoptClusterName(local *issuer.Local, opts *bundle.Options, given bool, stderr io.Writer) {
	name, ok := local.ClusterName()
	switch {
	case !ok:
	case !given:
		opts.Spec.ClusterName = name
	case name != opts.Spec.ClusterName && opts.Spec.TrustRestrictions:
		fmt.Fprintf(stderr, "warning: --cluster-name %q differs from the CA's cluster %q: these nodes match only a trust pattern for %q\n", opts.Spec.ClusterName, name, opts.Spec.ClusterName)
	}
}

// quietFlag adds -q/--quiet to a command that writes files: no progress and no
// summary, only warnings and errors (on stderr) and -o json's data.
func quietFlag(fs *pflag.FlagSet, quiet *bool) {
	fs.BoolVarP(quiet, "quiet", "q", false, "print nothing but warnings and errors")
}

// outputFormat is every command's -o/--output: text for people, json for programs.
// It refuses anything else while the flags are parsed, so every command rejects
// "-o xml" alike, with its own usage exit code.
type outputFormat string

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "text|json" }
func (o *outputFormat) Set(v string) error {
	if v != "text" && v != "json" {
		return fmt.Errorf("%q is not an output format: use text or json", v)
	}
	*o = outputFormat(v)
	return nil
}

// outputFlag adds -o/--output, text by default.
func outputFlag(fs *pflag.FlagSet, o *outputFormat, usage string) {
	*o = "text"
	fs.VarP(o, "output", "o", usage)
}

// printJSON writes v as indented JSON: the one encoder every -o json uses, so that a
// failed write (a closed pipe, a full disk) is an error, never a silent half document.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing the JSON output: %w", err)
	}
	return nil
}
