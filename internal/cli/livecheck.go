package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/check"
	"github.com/escert/escert/internal/esapi"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/passwords"
	"github.com/escert/escert/internal/posture"
)

// liveFlags are check's flags for a running cluster.
type liveFlags struct {
	url, bundleDir, caFile, user, passFile string
}

func (l *liveFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&l.url, "url", "", "check the running cluster at this https:// URL too (with --bundle, or --ca and --pass-file)")
	f.StringVar(&l.bundleDir, "bundle", "", "with --url: the bundle whose HTTP CA, bootstrap password and built-in-passwords to use")
	f.StringVar(&l.caFile, "ca", "", "with --url: PEM file of the HTTP CA (default: the bundle's clients/http-ca.crt)")
	f.StringVar(&l.user, "user", "elastic", "with --url: the user that reads the nodes' state (a superuser)")
	f.StringVar(&l.passFile, "pass-file", "", "with --url: file holding --user's password (or set ESCERT_PASSWORD; default: the bundle's)")
}

// liveCheck reads the trust and credentials of the flags and checks the cluster.
func liveCheck(ctx context.Context, e *env, l liveFlags, warnDays int) ([]check.Finding, error) {
	if l.bundleDir == "" && l.caFile == "" {
		return nil, usagef("--url needs the HTTP CA: give --bundle DIR or --ca FILE")
	}
	opts := posture.Options{WarnDays: warnDays, Now: e.now, Timeout: esapi.DefaultTimeout}
	caFile := l.caFile
	if caFile == "" {
		caFile = filepath.Join(l.bundleDir, "clients", "http-ca.crt")
	}
	var err error
	if opts.Roots, opts.TrustFrom, err = probeRoots([]string{caFile}, false); err != nil {
		return nil, badInput("%v", err)
	}
	if opts.Client, err = esapi.New(l.url, esapi.Config{Roots: opts.Roots}); err != nil {
		return nil, usagef("--url %v", err)
	}
	password, err := readSecret(e, l.passFile, "ESCERT_PASSWORD", "--pass-file")
	if err != nil {
		return nil, err
	}
	if l.bundleDir != "" {
		bootstrapPassword, err := readBundleFile(l.bundleDir, bundle.BootstrapPasswordFile, infile.Secret)
		if err != nil {
			return nil, err
		}
		opts.Bootstrap = []byte(strings.TrimRight(string(bootstrapPassword), "\r\n"))
		opts.BootstrapFix = fmt.Sprintf("give the built-in users passwords of their own: escert passwords --bundle %s", l.bundleDir)
		if password == nil && l.user == "elastic" {
			known, err := readPasswords(filepath.Join(l.bundleDir, passwords.File))
			if err != nil {
				return nil, err
			}
			if password = known.Get("elastic"); password == nil {
				password = opts.Bootstrap
			}
		}
	}
	if password == nil {
		return nil, usagef("--url: no password for %s: give --pass-file FILE or ESCERT_PASSWORD, or --bundle DIR", l.user)
	}
	opts.Auth = &esapi.Auth{User: l.user, Password: password}
	findings, err := posture.Check(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("--url %s: %w", l.url, err)
	}
	return findings, nil
}
