package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/rotate"
	"github.com/escert/escert/internal/spec"
	"github.com/escert/escert/internal/target"
)

// rotateFlags are shared by the three phases of `escert ca rotate`.
type rotateFlags struct {
	caDir, configDir, layer, clients, passFile, caPassFile, target string
	caDays                                                         int
	iss                                                            issuerFlags
}

func (f *rotateFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.caDir, "ca-dir", "", "the CA directory (the new CA waits in <ca-dir>/next/ until finish --promote)")
	fl.StringVar(&f.configDir, "es-config", "", "a node's config directory: the phase is applied to this node")
	fl.StringVar(&f.layer, "layer", "all", "which CA to rotate: transport, http or all")
	fl.StringVar(&f.clients, "clients", "", "a bundle's clients/ directory whose http-ca.crt (and http-ca.sha256) follow the HTTP CA")
	fl.StringVar(&f.passFile, "keystore-pass-file", "", "file holding the node keystore's password (or ESCERT_KEYSTORE_PASSWORD)")
	fl.StringVar(&f.caPassFile, "ca-pass-file", "", "file holding the CA key passphrase (or ESCERT_CA_PASSWORD)")
	fl.IntVar(&f.caDays, "ca-days", 3650, "lifetime of the new CA in days")
	targetFlagVar(fl, &f.target)
	f.iss.register(fl)
}

// start checks the flags every phase needs: the CA directory holds a local rotation's
// new CA; with a remote issuer (Vault, step-ca) the new CA is the issuer's instead.
func (f *rotateFlags) start(cmd *cobra.Command, e *env, more ...string) (rotate.CAOptions, error) {
	if err := f.iss.check(); err != nil {
		return rotate.CAOptions{}, err
	}
	if !f.iss.remote() {
		more = append(more, "ca-dir")
	} else if f.caDir != "" {
		return rotate.CAOptions{}, usagef("--ca-dir is for local CAs: with --issuer %s the new CA is the issuer's", f.iss.kind)
	}
	if err := required(cmd, more...); err != nil {
		return rotate.CAOptions{}, err
	}
	if err := checkTargetFlag(cmd, f.target, f.configDir); err != nil {
		return rotate.CAOptions{}, err
	}
	return f.options(e)
}

// next is the rotation's new CA: the one begin created under <ca-dir>/next/, or the
// remote issuer's (the Vault mounts or the step-ca the flags name).
func (f *rotateFlags) next(cmd *cobra.Command, e *env, o rotate.CAOptions) (issuer.Issuer, error) {
	if f.iss.remote() {
		return f.iss.build(cmd.Context(), e, o.Policy, fips.DefaultKey, cmd.ErrOrStderr())
	}
	next, err := rotate.LoadNext(o)
	if err != nil {
		return nil, err
	}
	return next, nil
}

func (f *rotateFlags) options(e *env) (rotate.CAOptions, error) {
	layers := map[string][]spec.Layer{"all": {spec.Transport, spec.HTTP}, "transport": {spec.Transport}, "http": {spec.HTTP}}[f.layer]
	if layers == nil {
		return rotate.CAOptions{}, usagef("--layer %q: use transport, http or all", f.layer)
	}
	pw, err := readSecret(e, f.caPassFile, "ESCERT_CA_PASSWORD", "--ca-pass-file")
	if err != nil {
		return rotate.CAOptions{}, err
	}
	return rotate.CAOptions{CADir: f.caDir, Layers: layers, Password: pw, Policy: fips.ForCurrent(false), Days: f.caDays, Rand: e.rand, Now: e.now(), Notify: e.write.Notify}, nil
}

// onNode runs a phase on the node of --es-config under its lock.
func (f *rotateFlags) onNode(e *env, phase func([]rotate.NodeCert) error) error {
	if f.configDir == "" {
		return nil
	}
	unlock, err := lockConfig(f.configDir)
	if err != nil {
		return err
	}
	defer unlock()
	certs, err := discover(e, f.configDir, f.passFile)
	if err != nil {
		return err
	}
	return phase(certs)
}

// clientCA is what a bundle's clients/http-ca.crt will hold, worked out before
// anything is written; nil when --clients is not given or the HTTP CA is not rotated.
type clientCA struct {
	path, fingerprint string
	certs             []*x509.Certificate
}

// planClientCA points a bundle's clients/ at the HTTP CAs clients must trust: with
// keep, those it trusts already and certs; otherwise certs alone.
func (f *rotateFlags) planClientCA(o rotate.CAOptions, certs []*x509.Certificate, keep bool) (*clientCA, error) {
	if f.clients == "" || !slices.Contains(o.Layers, spec.HTTP) {
		return nil, nil
	}
	c := &clientCA{path: filepath.Join(f.clients, "http-ca.crt"), fingerprint: ca.Fingerprint(certs[0]), certs: certs} // the issuing CA's, as bootstrap writes it
	if keep {
		data, err := infile.Read(c.path, infile.PEM)
		if err != nil {
			return nil, &fault.InputError{File: c.path, Problem: fmt.Sprintf("cannot be read (%v): --clients must name a bundle's clients/ directory", unwrapPathError(err))}
		}
		current, err := ca.ParseCertificates(data)
		if err != nil {
			return nil, &fault.InputError{File: c.path, Problem: err.Error()}
		}
		c.certs, c.fingerprint = rotate.AppendMissing(current, certs...), ""
	}
	return c, nil
}

func (c *clientCA) write(writer atomicfs.Writer, w io.Writer) error {
	if c == nil {
		return nil
	}
	if err := writer.WriteFile(c.path, ca.EncodeCertificates(c.certs...), atomicfs.PublicMode); err != nil {
		return err
	}
	if c.fingerprint != "" {
		if err := writer.WriteFile(filepath.Join(filepath.Dir(c.path), "http-ca.sha256"), []byte(c.fingerprint+"\n"), atomicfs.PublicMode); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "%s: now trusts %d HTTP CA certificate(s); Kibana does not hot-reload: restart it after copying the file\n", c.path, len(c.certs))
	return nil
}

func newCARotateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Replace a CA without downtime, in three phases run across the fleet",
		Long: `Replace the transport and/or HTTP CA without downtime. Run each phase on every node
before starting the next; each phase is safe to re-run:

  begin   create the new CA (in <ca-dir>/next/) and make each node trust old + new
  issue   re-issue each node's certificates from the new CA (Elasticsearch reloads them)
  finish  make each node trust the new CA only; then, once, --promote the new CA in
          the CA directory (the old one is kept under retired-<time>/)

A node still trusting the old CA alone cannot talk to one already presenting a
new-CA certificate: that is why begin must reach every node before issue starts.
A refused begin writes nothing. Each phase run with --es-config is recorded in
<ca-dir>/next/, and --promote refuses until every node the rotation began on has
finished (or when none was recorded); --allow-pending promotes anyway.
With --clients, the bundle's clients/http-ca.crt follows (old + new, then new);
Kibana must be restarted to pick it up, and Beats using ca_trusted_fingerprint need
the new fingerprint (printed by begin) before issue.`,
		Example: `  escert ca rotate begin  --ca-dir /etc/escert/ca --es-config /etc/elasticsearch   # on every node
  escert ca rotate issue  --ca-dir /etc/escert/ca --es-config /etc/elasticsearch   # on every node
  escert ca rotate finish --ca-dir /etc/escert/ca --es-config /etc/elasticsearch   # on every node
  escert ca rotate finish --ca-dir /etc/escert/ca --promote                        # once, at the end`,
	}
	var bf, iff, ff rotateFlags
	var promote, allowPending bool
	begin := &cobra.Command{
		Use:   "begin (--ca-dir DIR | --issuer vault ...) [--es-config DIR]",
		Short: "Create the new CA and make the node trust old and new",
		Example: `  escert ca rotate begin --ca-dir /etc/escert/ca --es-config /etc/elasticsearch --clients escert-out/clients
  # move to (or between) Vault PKI mounts: the new CA is the mounts' own
  escert ca rotate begin --es-config /etc/elasticsearch --issuer vault --vault-transport-mount pki_es_transport_2027 \
      --vault-http-mount pki_es_http_2027 --vault-role es-node`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := bf.start(cmd, e)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			// Everything that can be refused is checked before the first write, so a
			// typo'd --es-config or --clients leaves no new CA behind.
			var next issuer.Issuer
			var local *rotate.NewCA
			if bf.iss.remote() {
				if next, err = bf.next(cmd, e, o); err != nil {
					return err
				}
			} else {
				if local, err = rotate.NextCA(o); err != nil {
					return err
				}
				next = local
			}
			var change *rotate.TrustChange
			if bf.configDir != "" {
				unlock, err := lockConfig(bf.configDir)
				if err != nil {
					return err
				}
				defer unlock()
				certs, err := discover(e, bf.configDir, bf.passFile)
				if err != nil {
					return err
				}
				if change, err = rotate.PlanBegin(bf.configDir, certs, next, o); err != nil {
					return err
				}
			}
			clients, err := bf.planClientCA(o, next.Trust(spec.HTTP), true)
			if err != nil {
				return err
			}
			verb := "using"
			if local != nil && local.Created {
				if err := local.Save(); err != nil {
					return err
				}
				verb = "created"
			}
			for _, layer := range o.Layers {
				c := next.Trust(layer)[0]
				fmt.Fprintf(out, "%s the new %s CA %q, sha256 %s\n", verb, layer, c.Subject.CommonName, ca.Fingerprint(c))
			}
			if change != nil {
				changed, err := change.Apply()
				printChanged(out, changed, "now trusts the old and the new CA")
				if err != nil {
					return err
				}
				if len(changed) > 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), reloadAdvice(bf.configDir, o.Layers))
				}
			}
			return clients.write(e.write, out)
		},
	}
	bf.register(begin)
	issue := &cobra.Command{
		Use:   "issue (--ca-dir DIR | --issuer vault ...) --es-config DIR",
		Short: "Re-issue the node's certificates from the new CA",
		Example: `  escert ca rotate issue --ca-dir /etc/escert/ca --es-config /etc/elasticsearch
  escert ca rotate issue --es-config /etc/elasticsearch --issuer vault --vault-transport-mount pki_es_transport_2027 \
      --vault-http-mount pki_es_http_2027 --vault-role es-node`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := iff.start(cmd, e, "es-config")
			if err != nil {
				return err
			}
			next, err := iff.next(cmd, e, o)
			if err != nil {
				return err
			}
			return iff.onNode(e, func(certs []rotate.NodeCert) error {
				renewed, err := rotate.Issue(cmd.Context(), iff.configDir, certs, next, o)
				if werr := report(cmd.OutOrStdout(), renewed, false); werr != nil && err == nil {
					err = werr
				}
				if err == nil && len(renewed) == 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), "already issued from the new CA: nothing to do")
				}
				if err == nil && len(renewed) > 0 {
					if t, _ := target.Detect(iff.configDir); t == target.OpenSearch {
						// Seen on 2.19.4: "New certificates do not have valid Issuer DNs";
						// the reloadcerts API of earlier versions makes the same check.
						fmt.Fprintln(cmd.ErrOrStderr(), "OpenSearch reloads a certificate only from the same issuer: restart this node now, and wait for the cluster to be green before the next one")
					} else {
						fmt.Fprintln(cmd.ErrOrStderr(), reloadAdvice(iff.configDir, renewedLayers(renewed)))
					}
				}
				return err
			})
		},
	}
	iff.register(issue)
	finish := &cobra.Command{
		Use:   "finish (--ca-dir DIR | --issuer vault ...) [--es-config DIR] [--promote]",
		Short: "Make the node trust the new CA only; --promote the new CA once all nodes are done",
		Example: `  escert ca rotate finish --ca-dir /etc/escert/ca --es-config /etc/elasticsearch
  escert ca rotate finish --ca-dir /etc/escert/ca --promote
  escert ca rotate finish --es-config /etc/elasticsearch --issuer vault --vault-transport-mount pki_es_transport_2027 \
      --vault-http-mount pki_es_http_2027 --vault-role es-node`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if allowPending && !promote {
				return fault.Mark(fault.Usage, errors.New("--allow-pending goes with --promote"))
			}
			if ff.configDir == "" && !promote && ff.clients == "" {
				return usagef("finish needs --es-config (a node), --clients or --promote (the CA directory)")
			}
			if promote && ff.iss.remote() {
				return fault.Mark(fault.Usage, errors.New("--promote moves a local CA directory's new CA into place; with a remote issuer there is nothing to promote: retire the old Vault mount or CA when every node has finished"))
			}
			o, err := ff.start(cmd, e)
			if err != nil {
				return err
			}
			next, err := ff.next(cmd, e, o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := ff.onNode(e, func(certs []rotate.NodeCert) error {
				changed, err := rotate.Finish(ff.configDir, certs, next, o)
				printChanged(out, changed, "now trusts the new CA only")
				if err == nil && len(changed) > 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), reloadAdvice(ff.configDir, o.Layers))
				}
				return err
			}); err != nil {
				return err
			}
			clients, err := ff.planClientCA(o, next.Trust(spec.HTTP), false)
			if err == nil {
				err = clients.write(e.write, out)
			}
			if err != nil {
				return err
			}
			if promote {
				if err := rotate.Pending(o); err != nil {
					if !allowPending {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: promoting anyway (--allow-pending): %v\n", pendingNodes(err))
				}
				retired, err := rotate.Promote(o)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "promoted the new CA in %s; the old one is kept in %s\n", o.CADir, retired)
			}
			return nil
		},
	}
	ff.register(finish)
	finish.Flags().BoolVar(&promote, "promote", false, "move the new CA into the CA directory's main place (once every node has finished)")
	// Not --force: that would read as forcing finish onto a node still holding an
	// old-CA certificate, which is never right; this names what is allowed.
	finish.Flags().BoolVar(&allowPending, "allow-pending", false, "with --promote: retire the old CA although nodes the rotation began on have not finished (or none recorded it)")
	for _, sub := range []*cobra.Command{begin, issue, finish} {
		cmd.AddCommand(withExit(sub, escertContract, fault.Locked, fault.Input, fault.Refused, fault.Credentials, fault.Unavailable, fault.Interrupted))
	}
	return withExit(cmd, escertContract, fault.Locked, fault.Input, fault.Refused, fault.Credentials, fault.Unavailable, fault.Interrupted)
}

// pendingNodes says what Pending found, for the warning of an allowed promotion.
func pendingNodes(err error) string {
	var pending *rotate.PendingError
	if !errors.As(err, &pending) {
		return err.Error()
	}
	if len(pending.Nodes) == 0 {
		return "no node recorded a phase of this rotation"
	}
	return "not finished on " + strings.Join(pending.Nodes, ", ")
}

func printChanged(w io.Writer, files []string, what string) {
	for _, f := range files {
		fmt.Fprintf(w, "%s: %s\n", f, what)
	}
}
