package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/clientconfig"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/rotate"
	"github.com/escert/escert/internal/spec"
	"github.com/escert/escert/internal/target"
)

// windowFlags are --before and --at, shared by needs-renewal and renew.
type windowFlags struct{ before, at string }

func (w *windowFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&w.before, "before", "30d", "renew this long before expiry (e.g. 30d, 2w, 12h)")
	fs.StringVar(&w.at, "at", "", "renew once this fraction of the lifetime has passed (e.g. 2/3); replaces --before")
}

func (w *windowFlags) window(fs *pflag.FlagSet) (expiry.Window, error) {
	if w.at != "" {
		if fs.Changed("before") {
			return expiry.Window{}, fault.Mark(fault.Usage, errors.New("--before and --at conflict: give one"))
		}
		f, err := expiry.ParseFraction(w.at)
		if err != nil {
			return expiry.Window{}, usagef("--at: %w", err)
		}
		return expiry.Window{Fraction: f}, nil
	}
	d, err := expiry.ParseBefore(w.before)
	if err != nil {
		return expiry.Window{}, usagef("--before: %w", err)
	}
	return expiry.Window{Before: d}, nil
}

// nodeKeystorePassword asks for the node keystore's password when rotate needs it.
func nodeKeystorePassword(e *env, passFile string) rotate.KeystorePassword {
	return func(keystore []byte) ([]byte, error) { return keystorePassword(e, passFile, keystore) }
}

// discover loads the node's certificates and keys, asking for the keystore password
// as needed.
func discover(e *env, configDir, passFile string) ([]rotate.NodeCert, error) {
	return rotate.Discover(configDir, nodeKeystorePassword(e, passFile))
}

// lockConfig takes the lock of the node's config directory, which must exist: a
// typo'd --es-config is bad input, not a failure to lock.
func lockConfig(dir string) (func(), error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, badInput("--es-config %s: %v: point it at the node's config directory (the one holding elasticsearch.yml)", dir, unwrapPathError(err))
	}
	if !info.IsDir() {
		return nil, badInput("--es-config %s: not a directory: point it at the node's config directory (the one holding elasticsearch.yml)", dir)
	}
	unlock, err := atomicfs.Lock(dir)
	if err != nil {
		return nil, err
	}
	return unlock, nil
}

// Exit codes of needs-renewal: those of step certificate needs-renewal, so scripts
// written for step compose (needsRenewalContract).
const (
	exitRenewNow          = 0
	exitNotYet            = 1
	exitMissing           = 2
	exitNeedsRenewalError = 255
)

func newNeedsRenewalCmd(e *env) *cobra.Command {
	var (
		configDir, passFile, targetFlag string
		output                          outputFormat
		w                               windowFlags
	)
	cmd := &cobra.Command{
		Use:   "needs-renewal --es-config DIR",
		Short: "Exit 0 when a node certificate is due for renewal (for shell scripts)",
		Long: `Check the certificates a node's elasticsearch.yml configures (transport and HTTP,
PKCS#12 or PEM) and exit 0 when at least one is due: 30 days before it expires by
default (--before), or once a fraction of its lifetime has passed (--at 2/3).`,
		Example: `  escert needs-renewal --es-config /etc/elasticsearch && escert renew --es-config /etc/elasticsearch --ca-dir /root/ca
  escert needs-renewal --es-config /etc/elasticsearch --at 2/3 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "es-config"); err != nil {
				return err
			}
			win, err := w.window(cmd.Flags())
			if err != nil {
				return err
			}
			// Only the dates matter here: Chains opens no keystore when the
			// certificates read without one, so a cron job costs what starting
			// escert costs.
			if err := checkTargetFlag(cmd, targetFlag, configDir); err != nil {
				return err
			}
			certs, err := rotate.Chains(configDir, nodeKeystorePassword(e, passFile))
			if errors.Is(err, rotate.ErrMissing) {
				return outcome{exitMissing, err}
			}
			if err != nil {
				return err
			}
			now := e.now()
			type row struct {
				Layer    string    `json:"layer"`
				Files    []string  `json:"files"`
				NotAfter time.Time `json:"not_after"`
				RenewAt  time.Time `json:"renew_at"`
				Due      bool      `json:"due"`
			}
			var rows []row
			due := false
			for _, c := range certs {
				r := row{Layer: string(c.Layer), Files: c.Files(), NotAfter: c.Leaf().NotAfter.UTC(), RenewAt: win.RenewAt(c.Leaf()).UTC(), Due: win.Due(c.Leaf(), now)}
				due = due || r.Due
				rows = append(rows, r)
			}
			if output == "json" {
				if err := printJSON(cmd.OutOrStdout(), rows); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				for _, r := range rows {
					state := "not yet"
					if r.Due {
						state = "due"
					}
					fmt.Fprintf(tw, "%s\t%s\texpires %s\trenew from %s\t%s\n", r.Layer, strings.Join(r.Files, ","), r.NotAfter.Format(time.DateOnly), r.RenewAt.Format(time.DateOnly), state)
				}
				tw.Flush()
			}
			if due {
				return nil
			}
			return silentOutcome(exitNotYet)
		},
	}
	w.register(cmd.Flags())
	cmd.Flags().StringVar(&configDir, "es-config", "", "the node's config directory")
	targetFlagVar(cmd.Flags(), &targetFlag)
	cmd.Flags().StringVar(&passFile, "keystore-pass-file", "", "file holding the node keystore's password (or ESCERT_KEYSTORE_PASSWORD)")
	outputFlag(cmd.Flags(), &output, "text or json")
	return withExit(cmd, needsRenewalContract)
}

func newRenewCmd(e *env) *cobra.Command {
	var (
		configDir, caDir, passFile, caPassFile, execCmd, targetFlag string
		output                                                      outputFormat
		force                                                       bool
		jitter                                                      time.Duration
		w                                                           windowFlags
		iflags                                                      issuerFlags
	)
	cmd := &cobra.Command{
		Use:   "renew --es-config DIR --ca-dir DIR",
		Short: "Re-issue a node's due certificates in place, for cron and systemd timers",
		Long: `Re-issue the node's due certificates from the current ones (same subject and names,
their usages plus any the layer needs: transport certificates serve as TLS server and
client; a new key of the same type), validate them, and swap them in under the same
file names so Elasticsearch hot-reloads them: a p12 keeps its password, alias and
trusted entries; a PEM key and certificate are renamed into place back to back.
Passwords never change (that would need a restart). A certificate that would outlive
its CA is capped at the CA's expiry, and the run says so. When the CA itself expires
inside the renewal window, renewing cannot help: renew still carries each certificate
that ends sooner up to the CA's end, then exits 3 naming the CA: rotate it (escert ca
rotate).

Not due: exits 0 and says so. A lock keeps two runs apart; --jitter spreads a fleet's
runs; --exec runs a command once every file is in place (ESCERT_RENEWED holds the
renewed files). Replaced files are kept under <config>/escert-backups/<time>/.

With a company CA (--issuer pki) renewal takes two runs: with --csr-dir alone, renew
writes a new key and a request (same names) per due certificate and changes nothing
on the node; with --signed too, it checks what the PKI team signed against the node's
own trust and swaps it in as above.`,
		Example: `  escert renew --es-config /etc/elasticsearch --ca-dir /root/escert-ca
  escert renew --es-config /etc/elasticsearch --ca-dir /root/escert-ca --at 2/3 --jitter 30m
  escert renew --es-config /etc/elasticsearch --ca-dir /root/escert-ca --force --exec 'logger escert renewed'
  escert renew --es-config /etc/elasticsearch --issuer vault --vault-token-file /etc/escert/vault-token --vault-role es-node
  escert renew --es-config /etc/elasticsearch --issuer step --ca-url https://ca:9000 --root /etc/escert/root_ca.crt   # mutual TLS, no secret
  escert renew --es-config /etc/elasticsearch --issuer pki --csr-dir /root/es-renewal             # company CA: requests for what is due
  escert renew --es-config /etc/elasticsearch --issuer pki --csr-dir /root/es-renewal --signed signed/   # then install what it signed
  # packaging/escert-renew.timer runs it daily; see the README for cron.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := iflags.check(); err != nil {
				return err
			}
			need := []string{"es-config"}
			if !iflags.remote() {
				need = append(need, "ca-dir")
			}
			if err := required(cmd, need...); err != nil {
				return err
			}
			win, err := w.window(cmd.Flags())
			if err != nil {
				return err
			}
			if jitter > 0 {
				e.sleep(time.Duration(rand.Int64N(int64(jitter))))
			}
			if err := checkTargetFlag(cmd, targetFlag, configDir); err != nil {
				return err
			}
			unlock, err := lockConfig(configDir)
			if err != nil {
				return err
			}
			defer unlock()
			certs, err := discover(e, configDir, passFile)
			if err != nil {
				return err
			}
			policy := fips.ForCurrent(false)
			o := rotate.Options{ConfigDir: configDir, Policy: policy, Window: win, Force: force, Rand: e.rand, Now: e.now(), Notify: e.write.Notify}
			var (
				renewed []rotate.Renewed
				backup  string
			)
			switch {
			case iflags.kind == "pki" && len(iflags.pki.signed) == 0:
				return requestRenewal(cmd.OutOrStdout(), cmd.ErrOrStderr(), certs, iflags.pki.csrDir, o, output == "json")
			case iflags.kind == "pki":
				renewed, backup, err = iflags.installSigned(cmd.Context(), certs, o, cmd.ErrOrStderr())
			default:
				if o.Issuer, err = renewalIssuer(cmd, e, &iflags, caDir, caPassFile, policy); err != nil {
					return err
				}
				renewed, backup, err = rotate.Renew(cmd.Context(), certs, o)
			}
			if werr := report(cmd.OutOrStdout(), renewed, output == "json"); werr != nil && err == nil {
				err = werr
			}
			// A CA ending inside the window is reported after what could still be
			// renewed (up to the CA's end) is in place and announced, so cron sees a
			// failure while the node keeps every day its CA allows.
			caEnding := err
			if !errors.Is(err, rotate.ErrCATooShort) {
				caEnding = nil
				if err != nil {
					if len(renewed) > 0 {
						err = fmt.Errorf("%w (already renewed: %d; backups in %s; re-run to finish)", err, len(renewed), backup)
					}
					return err
				}
			}
			if len(renewed) == 0 {
				if caEnding != nil {
					return caEnding
				}
				fmt.Fprintln(cmd.ErrOrStderr(), "not due: nothing renewed")
				return nil
			}
			for _, r := range renewed {
				if r.DueAgain && !r.CappedAtCA {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: the new %s certificate lives %s, less than the renewal window, so every run renews it: use a shorter --before or --at 2/3\n", r.Layer, r.NotAfter.Sub(e.now()).Round(time.Hour))
				}
				if r.CappedAtCA {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: the %s certificate is capped at its CA's expiry %s: rotate the CA before then\n", r.Layer, r.NotAfter.Format(time.DateOnly))
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "previous files kept in %s; %s\n", backup, reloadAdvice(configDir, renewedLayers(renewed)))
			if execCmd != "" {
				if err := runExec(cmd.Context(), execCmd, renewed, cmd.OutOrStdout(), cmd.ErrOrStderr()); err != nil {
					if caEnding != nil {
						return fmt.Errorf("%w; renewed, but --exec failed: %v", caEnding, err)
					}
					return fmt.Errorf("renewed, but --exec failed: %w", err)
				}
			}
			return caEnding
		},
	}
	w.register(cmd.Flags())
	iflags.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&configDir, "es-config", "", "the node's config directory")
	targetFlagVar(fl, &targetFlag)
	fl.StringVar(&caDir, "ca-dir", "", "the CA directory (transport-ca.crt/.key, http-ca.crt/.key)")
	fl.StringVar(&passFile, "keystore-pass-file", "", "file holding the node keystore's password (or ESCERT_KEYSTORE_PASSWORD)")
	fl.StringVar(&caPassFile, "ca-pass-file", "", "file holding the CA key passphrase (or ESCERT_CA_PASSWORD)")
	fl.BoolVar(&force, "force", false, "renew every certificate, due or not")
	fl.DurationVar(&jitter, "jitter", 0, "wait a random time up to this long first, to spread a fleet's runs")
	fl.StringVar(&execCmd, "exec", "", "shell command to run once every renewed file is in place")
	outputFlag(fl, &output, "text or json")
	return withExit(cmd, escertContract, fault.Locked, fault.Input, fault.Refused, fault.Credentials, fault.Unavailable, fault.Interrupted)
}

// renewalIssuer is where a renewal's certificates come from: the remote issuer, or
// the CA directory.
func renewalIssuer(cmd *cobra.Command, e *env, iflags *issuerFlags, caDir, caPassFile string, policy fips.Policy) (issuer.Issuer, error) {
	if iflags.remote() {
		return iflags.build(cmd.Context(), e, policy, fips.DefaultKey, cmd.ErrOrStderr())
	}
	caPass, err := readSecret(e, caPassFile, "ESCERT_CA_PASSWORD", "--ca-pass-file")
	if err != nil {
		return nil, err
	}
	return issuer.LoadLocal(caDir, caPass, policy, e.rand, e.now)
}

// reloadAdvice says how the node of configDir takes up the files of layers that were
// just changed in place: by itself, when the admin certificate calls OpenSearch's
// reloadcerts API (the curl lines, one per layer), or at a restart.
func reloadAdvice(configDir string, layers []spec.Layer) string {
	how, engine, err := rotate.ReloadOf(configDir)
	if err != nil {
		return "restart the node if it does not take up the new files"
	}
	switch how {
	case nodetls.ReloadWatch:
		return engine.Product() + " reloads the new files within 5 s"
	case nodetls.ReloadAPI:
		var b strings.Builder
		b.WriteString("this OpenSearch reloads the new files when the admin certificate asks (" + nodetls.OpenSearchReloadEnabled + "); run, with BUNDLE the bootstrap's --out and NODE_HOST this node:")
		for _, layer := range slices.Compact(slices.Sorted(slices.Values(layers))) {
			b.WriteString("\n  " + clientconfig.ReloadCertsCommand("BUNDLE", string(layer), "NODE_HOST"))
		}
		return b.String()
	}
	if engine == target.OpenSearch {
		return "restart the node to load them: neither " + nodetls.OpenSearchHotReload + " (2.19+) nor " + nodetls.OpenSearchReloadEnabled + " is true"
	}
	return "restart the node to load them: " + nodetls.ElasticsearchResourceReload + " is false"
}

// renewedLayers are the layers of renewed.
func renewedLayers(renewed []rotate.Renewed) []spec.Layer {
	layers := make([]spec.Layer, 0, len(renewed))
	for _, r := range renewed {
		layers = append(layers, r.Layer)
	}
	return layers
}

func report(w io.Writer, renewed []rotate.Renewed, asJSON bool) error {
	if asJSON {
		if renewed == nil {
			renewed = []rotate.Renewed{}
		}
		return printJSON(w, renewed)
	}
	for _, r := range renewed {
		fmt.Fprintf(w, "renewed %s: %s, expires %s (was %s)\n", r.Layer, strings.Join(r.Files, ", "), r.NotAfter.Format(time.DateOnly), r.OldNotAfter.Format(time.DateOnly))
	}
	return nil
}

func runExec(ctx context.Context, command string, renewed []rotate.Renewed, stdout, stderr io.Writer) error {
	var files []string
	for _, r := range renewed {
		files = append(files, r.Files...)
	}
	c := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	c.Env = append(withoutSecrets(os.Environ()), "ESCERT_RENEWED="+strings.Join(files, " "))
	c.Stdout, c.Stderr = stdout, stderr
	return c.Run()
}

// withoutSecrets is environ without the variables escert reads secrets from (and any
// inherited ESCERT_RENEWED): a hook such as a reload or a notification needs none of
// them, and whatever it runs must not be able to read the CA's passphrase.
func withoutSecrets(environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(secretEnv, name) && name != "ESCERT_RENEWED" {
			out = append(out, kv)
		}
	}
	return out
}
