package install_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/install"
)

// faultBinary builds escert with the fault hook compiled in (-tags escertfault).
func faultBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "escert-fault")
	cmd := exec.Command("go", "build", "-tags", "escertfault", "-o", bin, "github.com/escert/escert/cmd/escert")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, _ := d.Info()
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestKilledInstallLeavesALoadableNode SIGKILLs a real `escert install` at every
// write step, on a first install and on a replacement, and checks that the node could
// start at each of those moments: the yml parses and is wholly old or wholly new, the
// keystore decrypts, and every p12 the yml names opens with the keystore's password
// and holds a key matching its certificate. A re-run then finishes the job.
func TestKilledInstallLeavesALoadableNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary and runs it dozens of times")
	}
	bin := faultBinary(t)
	// A keystore elasticsearch-keystore wrote (format 5, two S3 credentials), which a
	// first install merges into.
	realKeystore, err := os.ReadFile(filepath.Join("testdata", "v5-s3-credentials.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	first := configDir(t, "elasticsearch-default.yml", realKeystore)
	replaced := configDir(t, "elasticsearch-default.yml", nil)
	apply(t, options(nodeBundle(t, bundle.P12), replaced))
	scenarios := map[string]string{"first install": first, "replacement": replaced}
	next := nodeBundle(t, bundle.P12)

	for name, template := range scenarios {
		t.Run(name, func(t *testing.T) {
			oldYML, _ := os.ReadFile(filepath.Join(template, "elasticsearch.yml"))
			var newYML []byte
			for at := 1; ; at++ {
				config := filepath.Join(t.TempDir(), "config")
				copyTree(t, template, config)
				cmd := exec.Command(bin, "install", "--bundle", next, "--es-config", config, "--owner", "-")
				cmd.Env = append(os.Environ(), "ESCERT_FAULT_AT="+strconv.Itoa(at))
				out, err := cmd.CombinedOutput()
				var exit *exec.ExitError
				killed := errors.As(err, &exit) && exit.ExitCode() == -1
				if err != nil && !killed {
					t.Fatalf("fault %d: %v\n%s", at, err, out)
				}
				checkLoadable(t, config, nil)
				yml, _ := os.ReadFile(filepath.Join(config, "elasticsearch.yml"))
				if !killed {
					// A binary without the fault hook, or writes that no longer pass
					// a fault point, would reach here at once and prove nothing.
					if at == 1 {
						t.Fatal("no fault point was reached: the install was never killed, so no crash was tested")
					}
					newYML = yml
					t.Logf("%d fault points", at-1)
					break
				}
				if !bytes.Equal(yml, oldYML) && !bytes.HasPrefix(yml, oldYML) {
					t.Fatalf("fault %d: elasticsearch.yml is neither the old file nor old+block", at)
				}
				// A re-run completes the install from wherever the crash left it.
				rerun := exec.Command(bin, "install", "--bundle", next, "--es-config", config, "--owner", "-")
				if out, err := rerun.CombinedOutput(); err != nil {
					t.Fatalf("fault %d: re-run failed: %v\n%s", at, err, out)
				}
				checkLoadable(t, config, nil)
				plan, err := install.PlanNode(options(next, config))
				if err != nil || len(plan.Changes) != 0 {
					t.Fatalf("fault %d: after the re-run the node still differs from the bundle (%v)", at, err)
				}
				// The temporary file the kill left beside its target, holding a key
				// or the keystore, went with the re-run that wrote that target.
				for _, dir := range []string{config, filepath.Join(config, "certs")} {
					if left, _ := filepath.Glob(filepath.Join(dir, ".*.escert-*")); len(left) > 0 {
						t.Fatalf("fault %d: the re-run left %v behind", at, left)
					}
				}
			}
			if len(newYML) == 0 {
				t.Fatal("the install never completed")
			}
		})
	}
}
