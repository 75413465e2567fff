package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"math"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/infile"
)

// checkNames validates setting names the way KeyStoreWrapper.validateSettingName
// does, before any value is read.
func checkNames(names []string) error {
	for _, name := range names {
		if err := eskeystore.ValidName(name); err != nil {
			if len(name) > math.MaxUint16 {
				return ksErrorf(ksDataError, "%v", err)
			}
			return ksErrorf(ksDataError, "Setting name [%s] does not match the allowed setting name pattern [[A-Za-z0-9_\\-.]+]", name)
		}
	}
	return nil
}

// createForAdd opens the keystore for add and add-file, creating an empty one with no
// password when it is missing: with -f, or when the user agrees on the terminal
// (BaseKeyStoreCommand with keyStoreMustExist false). declined is true when the
// user said no; nothing is written then.
func (s *ksSession) createForAdd(force bool, version int) (k *openKeystore, declined bool, err error) {
	if k, err = s.load(); err != nil || k != nil {
		return k, false, err
	}
	if !force {
		needForce := ksErrorf(ksUsage, "The elasticsearch keystore does not exist at [%s]: use -f to create it (there is no terminal to ask on).", s.path)
		yes, err := s.confirm("The elasticsearch keystore does not exist. Do you want to create it?", needForce)
		if err != nil {
			return nil, false, err
		}
		if !yes {
			s.say("Exiting without creating keystore.")
			return nil, true, nil
		}
	}
	ks, err := eskeystore.New(version, s.e.rand)
	if err != nil {
		return nil, false, err
	}
	return &openKeystore{ks: ks}, false, nil
}

// overwriteOK decides whether setting name, which exists, may be replaced: with -f,
// or when the user agrees on the terminal.
func (s *ksSession) overwriteOK(name string, force bool) (bool, error) {
	if force {
		return true, nil
	}
	needForce := ksErrorf(ksUsage, "Setting [%s] already exists in the keystore: use -f to overwrite it (there is no terminal to ask on).", name)
	yes, err := s.confirm(fmt.Sprintf("Setting %s already exists. Overwrite?", name), needForce)
	if err == nil && !yes {
		s.say("Exiting without modifying keystore.")
	}
	return yes, err
}

// prepareAdd is what add and add-file do before writing values: check the names,
// take the keystore's lock, open (or, when confirmed, create) the keystore, refuse
// existing settings without -f, and note which settings already exist. A nil
// keystore means the user declined or an error; otherwise the caller saves and then
// calls unlock.
func (s *ksSession) prepareAdd(names []string, force bool, esVersion string) (k *openKeystore, existed map[string]bool, unlock func(), err error) {
	if err := checkNames(names); err != nil {
		return nil, nil, nil, err
	}
	version, err := keystoreVersion(s.cmd, esVersion)
	if err != nil {
		return nil, nil, nil, err
	}
	release, err := s.lock()
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if k == nil {
			release()
		}
	}()
	k, declined, err := s.createForAdd(force, version)
	if err != nil || declined {
		return nil, nil, nil, err
	}
	if err := s.refuseExisting(k, names, force); err != nil {
		return nil, nil, nil, err
	}
	existed = map[string]bool{}
	for _, name := range names {
		_, existed[name] = k.ks.Get(name)
	}
	return k, existed, release, nil
}

// refuseExisting fails early, before any value is read, when a setting exists, -f
// is not given and there is no terminal to ask on.
func (s *ksSession) refuseExisting(k *openKeystore, names []string, force bool) error {
	if force || s.terminal() {
		return nil
	}
	for _, name := range names {
		if _, ok := k.ks.Get(name); ok {
			return ksErrorf(ksUsage, "Setting [%s] already exists in the keystore: use -f to overwrite it (there is no terminal to ask on).", name)
		}
	}
	return nil
}

func newKeystoreAddCmd(e *env, o *ksOptions) *cobra.Command {
	var (
		stdin, force bool
		esVersion    string
	)
	cmd := &cobra.Command{
		Use:   "add SETTING...",
		Short: "Add string settings; values from standard input or a prompt, never from arguments",
		Long: `Add string settings to the keystore. With -x (--stdin), or when standard input is
not a terminal, each value is one line of standard input, in the order of the
settings; otherwise each is asked for on the terminal ("Enter value for SETTING: ").

An existing setting is replaced only when confirmed on the terminal or with -f.
A missing keystore is created (no password, mode 0660) when confirmed or with -f.`,
		Example: `  echo "$BOOTSTRAP_PASSWORD" | escert keystore add -x bootstrap.password
  printf '%s\n%s\n' "$KEY_ID" "$SECRET" | escert keystore add -x -f s3.client.default.access_key s3.client.default.secret_key
  escert keystore add xpack.notification.email.account.work.smtp.secure_password` +
			ksExitCodes(ksCodeOK+"; also when the user answers no to a question, nothing changed then",
				ksCodeUsage, ksCodeForce, ksCodeDataAdd, ksCodeBadName,
				"65  also: standard input ended before the value of a setting", ksCodeIO, ksCodeLocked, ksCodeConfig),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, names []string) error {
			if len(names) == 0 {
				return ksErrorf(ksUsage, "the setting names can not be empty")
			}
			k, existed, unlock, err := s.prepareAdd(names, force, esVersion)
			if err != nil || k == nil {
				return err
			}
			defer unlock()
			for _, name := range names {
				if existed[name] {
					ok, err := s.overwriteOK(name, force)
					if err != nil || !ok {
						return err
					}
				}
				value, err := s.value(name, stdin)
				if err != nil {
					return err
				}
				err = k.ks.Set(name, value)
				clear(value)
				if err != nil {
					return ksErrorf(ksDataError, "%v", err)
				}
			}
			return s.save(k)
		}),
	}
	cmd.Flags().BoolVarP(&stdin, "stdin", "x", false, "read the values from standard input, one line per setting")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "overwrite existing settings without asking, creating the keystore if needed")
	cmd.Flags().StringVar(&esVersion, "es-version", "8.14", "format of a keystore this creates ("+esVersionFormats+")")
	return cmd
}

func newKeystoreAddFileCmd(e *env, o *ksOptions) *cobra.Command {
	var (
		force     bool
		esVersion string
	)
	cmd := &cobra.Command{
		Use:   "add-file SETTING FILE [SETTING FILE]...",
		Short: "Add file settings: the content of each FILE under SETTING",
		Long: `Add the content of each FILE to the keystore under SETTING. An existing setting is
replaced only when confirmed on the terminal or with -f; a missing keystore is
created (no password, mode 0660) when confirmed or with -f.`,
		Example: `  escert keystore add-file xpack.watcher.encryption_key system_key
  escert keystore add-file -f gcs.client.default.credentials_file gcs.json azure.client.default.key azure.key` +
			ksExitCodes(ksCodeOK+"; also when the user answers no to a question, nothing changed then",
				"64  usage: no arguments, or settings and files not in pairs", ksCodeForce, ksCodeDataAdd, ksCodeBadName,
				"65  also: a FILE is larger than a setting file can be (16 MiB)",
				"74  a FILE does not exist or cannot be read; the keystore cannot be written", ksCodeLocked, ksCodeConfig),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, args []string) error {
			if len(args) == 0 {
				return ksErrorf(ksUsage, "Missing setting name")
			}
			if len(args)%2 != 0 {
				return ksErrorf(ksUsage, "settings and filenames must come in pairs")
			}
			var names []string
			for i := 0; i < len(args); i += 2 {
				names = append(names, args[i])
			}
			k, existed, unlock, err := s.prepareAdd(names, force, esVersion)
			if err != nil || k == nil {
				return err
			}
			defer unlock()
			for i := 0; i < len(args); i += 2 {
				name, file := args[i], args[i+1]
				if existed[name] {
					ok, err := s.overwriteOK(name, force)
					if err != nil || !ok {
						return err
					}
				}
				data, err := infile.Read(file, infile.SettingFile)
				if errors.Is(err, fs.ErrNotExist) {
					return ksErrorf(ksIOError, "File [%s] does not exist", file)
				}
				if err != nil {
					return ksErrorf(readErrorCode(err), "read [%s]: %v", file, unwrapPathError(err))
				}
				err = k.ks.SetFile(name, data)
				clear(data)
				if err != nil {
					return ksErrorf(ksDataError, "%v", err)
				}
			}
			return s.save(k)
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "overwrite existing settings without asking, creating the keystore if needed")
	cmd.Flags().StringVar(&esVersion, "es-version", "8.14", "format of a keystore this creates ("+esVersionFormats+")")
	return cmd
}
