package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/eskeystore"
)

func newKeystoreCreateCmd(e *env, o *ksOptions) *cobra.Command {
	var (
		password, force bool
		esVersion       string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a new keystore holding only keystore.seed",
		Long: `Create a new elasticsearch.keystore, mode 0660, holding a fresh keystore.seed, in
format 6 (Elasticsearch 8.14 and later) or the one --es-version reads
(` + esVersionFormats + `).

With -p the keystore is protected by a password: --keystore-pass-file,
ESCERT_KEYSTORE_PASSWORD or a prompt (twice). Without -p it has none, as
elasticsearch-keystore create makes it.

An existing keystore is replaced only when confirmed on the terminal or with
--force; the replacement keeps the old file's owner and mode.`,
		Example: `  escert keystore create
  escert keystore create -p --keystore-pass-file /run/secrets/keystore.pass
  escert keystore create --es-version 7.17 --path /etc/elasticsearch/elasticsearch.keystore --force` +
			ksExitCodes(ksCodeOK+"; also when the user answers no to replacing an existing keystore",
				ksCodeUsage, "64  also: the keystore exists, there is no terminal to confirm on and --force was not given",
				"65  the passwords typed differ, or the password file cannot be read", ksCodeIO, ksCodeLocked, ksCodeConfig),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, args []string) error {
			if len(args) > 0 {
				return ksErrorf(ksUsage, "create takes no arguments, got [%s]", args[0])
			}
			version, err := keystoreVersion(s.cmd, esVersion)
			if err != nil {
				return err
			}
			unlock, err := s.lock()
			if err != nil {
				return err
			}
			defer unlock()
			if _, err := os.Lstat(s.path); err == nil && !force {
				needForce := ksErrorf(ksUsage, "An elasticsearch keystore already exists at [%s]: use --force to replace it (there is no terminal to ask on).", s.path)
				yes, err := s.confirm("An elasticsearch keystore already exists. Overwrite?", needForce)
				if err != nil {
					return err
				}
				if !yes {
					s.say("Exiting without creating keystore.")
					return nil
				}
			}
			k := &openKeystore{}
			if password || s.o.passFile != "" {
				k.password, err = s.newPassword(s.o.passFile, "ESCERT_KEYSTORE_PASSWORD", "--keystore-pass-file",
					"create -p: no terminal to ask for the password on: give it with --keystore-pass-file or ESCERT_KEYSTORE_PASSWORD")
				if err != nil {
					return err
				}
			}
			if k.ks, err = eskeystore.New(version, s.e.rand); err != nil {
				return err
			}
			if err := s.save(k); err != nil {
				return err
			}
			s.say("Created elasticsearch keystore in %s", s.path)
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&password, "password", "p", false, "protect the keystore with a password (from --keystore-pass-file, ESCERT_KEYSTORE_PASSWORD or a prompt)")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "replace an existing keystore without asking")
	cmd.Flags().StringVar(&esVersion, "es-version", "8.14", "target Elasticsearch version; picks the format ("+esVersionFormats+")")
	return cmd
}
