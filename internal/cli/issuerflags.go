package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/issuer/stepca"
	"github.com/escert/escert/internal/issuer/vault"
	"github.com/escert/escert/internal/spec"
)

// issuerFlags choose where certificates come from: the local CAs (default), Vault's
// PKI engine or a step-ca. Secrets (tokens, AppRole secret IDs, provisioner
// passwords) come from files or the environment, never from flag values.
type issuerFlags struct {
	fs                                 *pflag.FlagSet
	kind                               string
	addr, namespace, caCert            string
	insecure                           bool
	mount, transportMount, httpMount   string
	role, transportRole, httpRole      string
	mode                               string
	tokenFile, appRoleID, secretIDFile string
	agentSink                          string
	concurrency                        int
	timeout                            time.Duration
	step                               stepFlags
	pki                                pkiFlags
}

// pkiFlags find a company CA's answer: the CSR directory `escert csr` wrote, the
// signed certificates and intermediates, and the roots each layer trusts.
type pkiFlags struct {
	csrDir                  string
	signed                  []string
	transportRoot, httpRoot string
}

// stepFlags reach a step-ca: --root or --fingerprint pins its root; the provisioner
// is needed for first issuance only, renewal runs over mutual TLS.
type stepFlags struct {
	url, root, fingerprint, provisioner, passwordFile string
}

func (f *issuerFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.kind, "issuer", "local", "where certificates come from: local (the CA files), vault (Vault's PKI engine), step (a step-ca) or pki (a company CA that signed escert csr's requests)")
	fs.StringVar(&f.addr, "vault-addr", "", "Vault's address (default $VAULT_ADDR)")
	fs.StringVar(&f.namespace, "vault-namespace", "", "Vault Enterprise namespace (default $VAULT_NAMESPACE)")
	fs.StringVar(&f.caCert, "vault-cacert", "", "CA file to trust Vault's TLS certificate (default $VAULT_CACERT)")
	fs.BoolVar(&f.insecure, "insecure", false, "honour VAULT_SKIP_VERIFY (refused otherwise): do not verify Vault's TLS certificate")
	fs.StringVar(&f.mount, "vault-mount", "pki", "PKI mount for both layers")
	fs.StringVar(&f.transportMount, "vault-transport-mount", "", "PKI mount for transport certificates (default --vault-mount)")
	fs.StringVar(&f.httpMount, "vault-http-mount", "", "PKI mount for HTTP certificates (default --vault-mount)")
	fs.StringVar(&f.role, "vault-role", "", "PKI role for both layers")
	fs.StringVar(&f.transportRole, "vault-transport-role", "", "PKI role for transport certificates (default --vault-role)")
	fs.StringVar(&f.httpRole, "vault-http-role", "", "PKI role for HTTP certificates (default --vault-role)")
	fs.StringVar(&f.mode, "vault-mode", "sign", "sign (key made here, only a CSR goes to Vault) or issue (Vault makes the key)")
	fs.StringVar(&f.tokenFile, "vault-token-file", "", "file holding a Vault token (default $VAULT_TOKEN)")
	fs.StringVar(&f.appRoleID, "vault-approle-role-id", "", "AppRole role_id (not a secret), used with --vault-approle-secret-id-file")
	fs.StringVar(&f.secretIDFile, "vault-approle-secret-id-file", "", "file holding the AppRole secret_id")
	fs.StringVar(&f.agentSink, "vault-agent-sink", "", "Vault Agent's token sink file")
	fs.IntVar(&f.concurrency, "vault-concurrency", 8, "requests in flight to Vault at once")
	fs.DurationVar(&f.timeout, "vault-timeout", 30*time.Second, "timeout of one Vault request")
	fs.StringVar(&f.step.url, "ca-url", "", "step-ca's address, https://host:port (default $STEP_CA_URL)")
	fs.StringVar(&f.step.root, "root", "", "step-ca's root certificate file (default $STEP_ROOT); with --issuer pki, the company root both layers trust")
	fs.StringVar(&f.step.fingerprint, "fingerprint", "", "SHA-256 of step-ca's root, hex: fetch the root and pin it (step ca bootstrap's way)")
	fs.StringVar(&f.step.provisioner, "provisioner", "", "step-ca JWK provisioner for first issuance (renewal needs none)")
	fs.StringVar(&f.step.passwordFile, "provisioner-password-file", "", "file holding the provisioner's password (or ESCERT_PROVISIONER_PASSWORD)")
	fs.StringVar(&f.pki.csrDir, "csr-dir", "", "with --issuer pki, the directory 'escert csr' wrote: the keys and the requests")
	fs.StringArrayVar(&f.pki.signed, "signed", nil, "with --issuer pki, a file or directory of the PKI team's answer: signed certificates and intermediates, any names (repeatable)")
	fs.StringVar(&f.pki.transportRoot, "transport-root", "", "with --issuer pki, the CA the transport layer trusts (default --root); the issuing CA itself narrows it to what that CA signs")
	fs.StringVar(&f.pki.httpRoot, "http-root", "", "with --issuer pki, the CA HTTP clients trust (default --root)")
}

// describe names the issuer for progress lines.
func (f *issuerFlags) describe() string {
	switch f.kind {
	case "step":
		return "step-ca"
	case "pki":
		return "the company CA's signed certificates"
	}
	return "Vault (" + f.mode + " mode)"
}

// remote reports an issuer other than the local CA files.
func (f *issuerFlags) remote() bool { return f.kind != "local" }

func (f *issuerFlags) check() error {
	if f.kind != "local" && f.kind != "vault" && f.kind != "step" && f.kind != "pki" {
		return usagef("--issuer %q: use local, vault, step or pki", f.kind)
	}
	if f.kind != "pki" {
		for _, name := range []string{"csr-dir", "signed", "transport-root", "http-root"} {
			if fl := f.fs.Lookup(name); fl != nil && fl.Changed {
				return usagef("--%s is for --issuer pki", name)
			}
		}
	}
	// One step-ca usually signs everything a company has: only the trust restrictions
	// keep its other certificates off the transport layer.
	if f.kind == "step" {
		if fl := f.fs.Lookup("no-trust-restrictions"); fl != nil && fl.Changed {
			return fault.Mark(fault.Usage, errors.New("--issuer step keeps the transport trust restrictions on: a step-ca signs far more than this cluster's nodes, and without them any of its certificates could join the transport layer"))
		}
	}
	if f.mode != "sign" && f.mode != "issue" {
		return usagef("--vault-mode %q: use sign or issue", f.mode)
	}
	return nil
}

// build connects to the remote issuer (and logs in); it prints warnings.
func (f *issuerFlags) build(ctx context.Context, e *env, policy fips.Policy, key fips.KeySpec, stderr io.Writer) (issuer.Issuer, error) {
	if f.kind == "pki" {
		// A company CA signs only what was requested: bootstrap and renew read its
		// answer; anything else would need a request first.
		return nil, usagef("--issuer pki works with bootstrap and renew only, which read a company CA's answer to escert's requests; to add instances, request them with escert csr --instances NEW.yml --cluster-name <cluster> and build their bundles with escert bootstrap --issuer pki")
	}
	if f.kind == "step" {
		return f.buildStep(ctx, e, policy)
	}
	pick := func(specific, shared, env string) string {
		if specific != "" {
			return specific
		}
		if shared != "" {
			return shared
		}
		return e.getenv(env)
	}
	cfg := vault.Config{
		Addr:      pick(f.addr, "", "VAULT_ADDR"),
		Namespace: pick(f.namespace, "", "VAULT_NAMESPACE"),
		CACert:    pick(f.caCert, "", "VAULT_CACERT"),
		Insecure:  f.insecure && e.getenv("VAULT_SKIP_VERIFY") != "",
		Auth: vault.Auth{
			Token: e.getenv("VAULT_TOKEN"), TokenFile: f.tokenFile,
			AppRoleID: f.appRoleID, AppRoleSecretIDFile: f.secretIDFile, AgentSinkFile: f.agentSink,
		},
		Layers: map[spec.Layer]vault.Role{
			spec.Transport: {Mount: pick(f.transportMount, f.mount, ""), Name: pick(f.transportRole, f.role, "")},
			spec.HTTP:      {Mount: pick(f.httpMount, f.mount, ""), Name: pick(f.httpRole, f.role, "")},
		},
		Mode: f.mode, Policy: policy, Key: key, Rand: e.rand, Timeout: f.timeout, Concurrency: f.concurrency, Now: e.now,
	}
	if e.getenv("VAULT_SKIP_VERIFY") != "" && !f.insecure {
		return nil, fault.Mark(fault.Usage, errors.New("VAULT_SKIP_VERIFY is set: escert verifies Vault's certificate unless you also pass --insecure; prefer --vault-cacert"))
	}
	if cfg.Addr == "" {
		return nil, fault.Mark(fault.Usage, errors.New("--issuer vault needs --vault-addr or VAULT_ADDR"))
	}
	for layer, r := range cfg.Layers {
		if r.Name == "" {
			return nil, usagef("--issuer vault needs a role for the %s layer: --vault-role or --vault-%s-role", layer, layer)
		}
	}
	iss, warnings, err := vault.New(ctx, cfg)
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	if err != nil {
		return nil, err
	}
	return iss, nil
}

func (f *issuerFlags) buildStep(ctx context.Context, e *env, policy fips.Policy) (issuer.Issuer, error) {
	cfg := stepca.Config{
		URL: f.step.url, RootFile: f.step.root, Fingerprint: f.step.fingerprint,
		Provisioner: f.step.provisioner, Policy: policy, Timeout: f.timeout,
	}
	if cfg.URL == "" {
		cfg.URL = e.getenv("STEP_CA_URL")
	}
	if cfg.RootFile == "" && cfg.Fingerprint == "" {
		cfg.RootFile = e.getenv("STEP_ROOT")
	}
	switch {
	case cfg.URL == "":
		return nil, fault.Mark(fault.Usage, errors.New("--issuer step needs --ca-url (or STEP_CA_URL)"))
	case cfg.RootFile == "" && cfg.Fingerprint == "":
		return nil, fault.Mark(fault.Usage, errors.New("--issuer step needs --root FILE or --fingerprint HEX to trust the CA"))
	case f.step.passwordFile != "" && cfg.Provisioner == "":
		return nil, fault.Mark(fault.Usage, errors.New("--provisioner-password-file needs --provisioner"))
	}
	// A lifetime is asked for only when given: step-ca's provisioners allow a narrow
	// range (24 hours by default), and their default is the one the CA's admin chose.
	if fl := f.fs.Lookup("days"); fl != nil && fl.Changed {
		days, _ := f.fs.GetInt("days")
		cfg.Lifetime = time.Duration(days) * 24 * time.Hour
	}
	if cfg.Provisioner != "" {
		pw, err := readSecret(e, f.step.passwordFile, "ESCERT_PROVISIONER_PASSWORD", "--provisioner-password-file")
		if err != nil {
			return nil, err
		}
		cfg.Password = pw
	}
	return stepca.New(ctx, cfg)
}
