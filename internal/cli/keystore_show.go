package cli

import (
	"fmt"
	"unicode/utf8"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/spf13/cobra"
)

func newKeystoreShowCmd(e *env, o *ksOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show SETTING",
		Short: "Print the value of one setting (or write it to a file with -o)",
		Long: `Print the value of one setting on standard output: with a line break on a terminal,
as is when standard output is redirected. A value that is not UTF-8 text (a file
setting) is not printed on a terminal: redirect it, or write it with -o FILE (mode
0600 for a new file; an existing file keeps its owner and mode).`,
		Example: `  escert keystore show bootstrap.password
  escert keystore show xpack.watcher.encryption_key -o system_key` +
			ksExitCodes(ksCodeOK, "64  usage: not exactly one setting name", ksCodeData,
				"74  a binary value would go to a terminal, or -o FILE cannot be written", ksCodeNoSetting),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, names []string) error {
			if len(names) != 1 {
				return ksErrorf(ksUsage, "Must provide a single setting name to show")
			}
			k, err := s.mustLoad()
			if err != nil {
				return err
			}
			value, ok := k.ks.Get(names[0])
			if !ok {
				return ksErrorf(ksConfig, "Setting [%s] does not exist in the keystore.", names[0])
			}
			defer clear(value)
			if output != "" {
				perm, err := atomicfs.PermOf(output, atomicfs.SecretMode)
				if err == nil {
					err = s.e.write.WriteFileAs(output, value, perm)
				}
				if err != nil {
					return ksErrorf(ksIOError, "%v", err)
				}
				return nil
			}
			out := s.cmd.OutOrStdout()
			switch {
			case !isTerminal(out):
				_, err = out.Write(value)
			case utf8.Valid(value):
				_, err = fmt.Fprintf(out, "%s\n", value)
			default:
				fmt.Fprintf(s.cmd.ErrOrStderr(), "The value for the setting [%s] is not a string and cannot be printed to the console\n", names[0])
				return ksErrorf(ksIOError, "Please redirect binary output to a file instead")
			}
			if err != nil {
				return ksErrorf(ksIOError, "write standard output: %v", err)
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the value to this file instead of standard output")
	return cmd
}
