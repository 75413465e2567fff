//go:build unix

package atomicfs

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

// TestModesIgnoreTheUmask runs WriteTree and WriteFile under umasks that are laxer and
// stricter than the usual 022: the modes must come out exactly as asked. The umask is
// process-wide, so this test is not parallel (and neither are its subtests).
func TestModesIgnoreTheUmask(t *testing.T) {
	for _, umask := range []int{0o000, 0o022, 0o077, 0o027} {
		t.Run(fs.FileMode(umask).String(), func(t *testing.T) {
			old := syscall.Umask(umask)
			defer syscall.Umask(old)

			out := filepath.Join(t.TempDir(), "certs")
			if _, err := quiet.WriteTree(out, bundle(), false, now); err != nil {
				t.Fatal(err)
			}
			assertTree(t, out, bundleTree())

			single := filepath.Join(t.TempDir(), "ca.crt")
			if err := quiet.WriteFile(single, []byte("x"), PublicMode); err != nil {
				t.Fatal(err)
			}
			if got := snapshot(t, filepath.Dir(single))["ca.crt"]; got != (entry{mode: 0o644, data: "x"}) {
				t.Errorf("WriteFile: ca.crt mode %v content %q, want 0644 \"x\"", got.mode, got.data)
			}
		})
	}
}
