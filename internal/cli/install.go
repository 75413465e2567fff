package cli

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/install"
	"github.com/escert/escert/internal/target"
)

func newInstallCmd(e *env) *cobra.Command {
	var (
		bundleDir, configDir, owner, passFile string
		esVersion, targetFlag                 string
		dryRun, force, noAudit, enrollment    bool
		fipsMode                              bool
		output                                outputFormat
	)
	cmd := &cobra.Command{
		Use:   "install --bundle DIR/nodes/<name> --es-config DIR",
		Short: "Install a node bundle into a node's config directory, safely",
		Long: `Install a node bundle from 'escert bootstrap' or 'escert cert':

  certs/*                  copied into <config>/certs/ (keys and p12 0640, certificates 0644,
                           the directory 0750), owned by root:<group of --owner>
  elasticsearch.keystore   the bundle's secure settings merged into the node's keystore:
                           every other entry and the password are kept; the format is
                           the one the node's Elasticsearch upgrades to (--es-version)
  elasticsearch.yml        escert's block written between BEGIN/END ESCERT lines; a re-run
                           replaces it; every byte outside the block is kept

Nothing is written until the whole bundle checks out: every file its block names is
there, each p12 opens with the password the bundle's keystore holds and has its key
and trusted entries, each key matches its certificate, each chain verifies to the
bundle's CA, and the certificates are this node's (the bootstrap's manifest.json when
the bundle sits in its output). A bundle that fails is refused, naming the file.

Settings outside the block that the block would set (or any other TLS setting of the
transport and HTTP layers, such as Elasticsearch's own auto-configuration) stop the
run; --force comments them out with a note instead. A plaintext TLS password among
them does not stay in the file: it is dropped when the bundle brings its own secure
setting, else moved into elasticsearch.keystore as its secure_ setting (backups under
escert-backups/ keep the old file as it was). Replaced files are kept under
<config>/escert-backups/<time>/. A p12 that replaces one already in place keeps the
password the node's keystore holds, so Elasticsearch hot-reloads it without a restart.

Every write is atomic (temp file, fsync, rename, fsync directory), in an order that
keeps the node loadable at every step, under a lock so two runs cannot interleave.
Re-running with the same bundle changes nothing and says so. The block also turns on
audit logging (--no-audit to leave it out) and, with --enrollment, enrollment tokens.

A node upgrades an older keystore format when it starts, and refuses to start when it
cannot write its config directory (as packages lay it out), so install writes the
format of the node's version: --es-version, else the version of the installation the
config directory belongs to (<config>/../lib, or /usr/share/elasticsearch/lib for
/etc/elasticsearch); when neither is known, the keystore keeps its format.

The node's keystore password comes from --keystore-pass-file, ESCERT_KEYSTORE_PASSWORD
or a prompt on a terminal; none is needed when the keystore has none.`,
		Example: `  escert install --bundle escert-out/nodes/node1 --es-config /etc/elasticsearch --dry-run
  escert install --bundle escert-out/nodes/node1 --es-config /etc/elasticsearch
  escert install --bundle escert-out/nodes/node1 --es-config /etc/elasticsearch --force   # comment out auto-configuration's TLS settings
  escert install --bundle node4/nodes/node4 --es-config /usr/share/elasticsearch/config --owner -
  escert install --bundle escert-out/nodes/node1 --es-config /srv/es/config --es-version 9.5.4   # config outside the installation`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "bundle", "es-config"); err != nil {
				return err
			}
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			var password []byte
			ksPath := filepath.Join(configDir, "elasticsearch.keystore")
			data, err := infile.Read(ksPath, infile.Keystore)
			switch {
			case err == nil:
				if password, err = keystorePassword(e, passFile, data); err != nil {
					return err
				}
			case errors.Is(err, infile.ErrTooLarge):
				return badInput("%s: %v", ksPath, unwrapPathError(err))
			default:
				// No keystore yet (or none readable, which planning reports): a
				// password given is the one a new keystore gets.
				if password, err = readSecret(e, passFile, "ESCERT_KEYSTORE_PASSWORD", "--keystore-pass-file"); err != nil {
					return err
				}
			}
			if err := install.CheckConfigDir(configDir); err != nil {
				return err
			}
			engine, err := nodeTarget(cmd, targetFlag, configDir)
			if err != nil {
				return err
			}
			if engine == target.OpenSearch {
				if enrollment || cmd.Flags().Changed("no-audit") || cmd.Flags().Changed("es-version") || passFile != "" {
					return usagef("--enrollment, --no-audit, --es-version and --keystore-pass-file are for Elasticsearch: %s is an OpenSearch config directory", configDir)
				}
				noAudit = true
				if !cmd.Flags().Changed("owner") {
					owner = "opensearch"
				}
			}
			own, err := resolveOwner(owner)
			if err != nil {
				return err
			}
			policy := fips.ForCurrent(fipsMode)
			if err := policy.CheckPassword("keystore password", "--keystore-pass-file or ESCERT_KEYSTORE_PASSWORD", password); err != nil {
				return fault.Mark(fault.Input, err)
			}
			ksVersion, err := nodeKeystoreVersion(esVersion, configDir)
			if err != nil {
				return err
			}
			opts := install.NodeOptions{
				BundleDir: bundleDir, ConfigDir: configDir, KeystorePassword: password, Owner: own,
				Audit: !noAudit, Enrollment: enrollment, Force: force, FIPS: policy.FIPS,
				KeystoreVersion: ksVersion, Now: e.now(), Rand: e.rand, Notify: e.write.Notify,
			}
			if !dryRun {
				unlock, err := atomicfs.Lock(configDir)
				if err != nil {
					return err
				}
				defer unlock()
			}
			plan, err := install.PlanNode(opts)
			if err != nil {
				return err
			}
			for _, n := range plan.Notes {
				fmt.Fprintln(stderr, "note: "+n)
			}
			result := installResult{ConfigDir: configDir, Bundle: bundleDir, DryRun: dryRun, Changes: []installChange{}}
			for _, c := range plan.Changes {
				result.Changes = append(result.Changes, installChange{Path: filepath.Join(configDir, c.Path), Reason: c.Reason})
			}
			switch {
			case len(plan.Changes) == 0:
				if output == "text" {
					fmt.Fprintf(stdout, "%s already matches %s: nothing to do\n", configDir, bundleDir)
				}
			case dryRun:
				if output == "text" {
					plan.Diff(stdout)
				}
				fmt.Fprintf(stderr, "dry run: %d file(s) would change; nothing was written\n", len(plan.Changes))
			default:
				// Ctrl-C while planning stops here, before the first write.
				if err := cmd.Context().Err(); err != nil {
					return fmt.Errorf("install stopped before writing anything: %w", err)
				}
				backup, err := plan.Apply(own)
				if err != nil {
					return fmt.Errorf("%w (backups of replaced files: %s; re-run the same command to finish)", err, backup)
				}
				result.Backup = backup
				if output == "text" {
					for _, c := range result.Changes {
						fmt.Fprintf(stdout, "%s: %s\n", c.Path, c.Reason)
					}
					if backup != "" {
						fmt.Fprintf(stdout, "previous versions kept in %s\n", backup)
					}
				}
				if engine == target.OpenSearch {
					fmt.Fprintln(stderr, "Restart the node for the new opensearch.yml settings; on a new cluster, the first node to start creates the security index from opensearch-security/.")
				} else {
					fmt.Fprintln(stderr, "Elasticsearch reloads certificates by itself; restart the node for new keystore passwords and yml settings.")
				}
			}
			if output == "json" {
				return printJSON(stdout, result)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&bundleDir, "bundle", "", "the node bundle: DIR/nodes/<name> of a bootstrap")
	fl.StringVar(&configDir, "es-config", "", "the node's config directory (e.g. /etc/elasticsearch, /etc/opensearch)")
	targetFlagVar(fl, &targetFlag)
	fl.StringVar(&owner, "owner", "elasticsearch", "user the node runs as (for OpenSearch, default opensearch): files become root:<its group>; '-' keeps owners as they are")
	fl.StringVar(&passFile, "keystore-pass-file", "", "file holding the node keystore's password (or set ESCERT_KEYSTORE_PASSWORD)")
	fl.BoolVar(&dryRun, "dry-run", false, "print a unified diff of every change and write nothing")
	fl.BoolVar(&force, "force", false, "comment out conflicting settings outside escert's block instead of stopping (their plaintext passwords go to the keystore)")
	fl.BoolVar(&noAudit, "no-audit", false, "leave xpack.security.audit.enabled out of the block")
	fl.BoolVar(&fipsMode, "fips", false, "FIPS 140 node: refuse PKCS#12 bundles and keystore passwords under 14 bytes (implied by a FIPS build)")
	fl.StringVar(&esVersion, "es-version", "", "the node's Elasticsearch version, which picks the keystore format (default: found from the installation)")
	outputFlag(fl, &output, "text, or json: the files changed (or that would change with --dry-run) and the backup directory")
	fl.BoolVar(&enrollment, "enrollment", false, "set xpack.security.enrollment.enabled: true (enrollment tokens for new nodes and Kibana)")
	return withExit(cmd, escertContract, fault.Input, fault.Locked, fault.Interrupted)
}

// installResult is what install did, for -o json.
type installResult struct {
	ConfigDir string          `json:"config_dir"`
	Bundle    string          `json:"bundle"`
	DryRun    bool            `json:"dry_run"`
	Changes   []installChange `json:"changes"`
	Backup    string          `json:"backup,omitempty"`
}

type installChange struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// nodeKeystoreVersion is the keystore format of the node's Elasticsearch: from
// --es-version, else from the installation beside the config directory, else 0
// (unknown: the keystore keeps its format).
func nodeKeystoreVersion(flag, configDir string) (int, error) {
	if flag != "" {
		v, err := eskeystore.VersionFor(flag)
		if err != nil {
			return 0, usagef("--es-version: %w", err)
		}
		return v, nil
	}
	if found, ok := esconfig.InstalledVersion(configDir); ok {
		if v, err := eskeystore.VersionFor(found); err == nil {
			return v, nil
		}
	}
	return 0, nil
}

// resolveOwner turns --owner into root:<group of the user>. Only root can give files
// to root, so other users keep their own files, and are told so.
func resolveOwner(name string) (*install.Owner, error) {
	if name == "-" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, badInput("--owner %s: no such user: create it (Elasticsearch's packages do) or pass --owner - to keep owners as they are", name)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, badInput("--owner %s: group id %q is not numeric", name, u.Gid)
	}
	if os.Geteuid() != 0 {
		return nil, badInput("--owner %s: only root can make files root:%s; run as root or pass --owner -", name, name)
	}
	group := name
	if g, err := user.LookupGroupId(u.Gid); err == nil {
		group = g.Name
	}
	return &install.Owner{UID: 0, GID: gid, Group: group}, nil
}
