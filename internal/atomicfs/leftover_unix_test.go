//go:build unix

package atomicfs

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestLeftoversOfAKilledRunAreRemovedAndTold: the staging directory a killed
// bootstrap left beside --out (CA keys inside) and the temporary file a killed write
// left beside its target are removed by the next write there, each removal told;
// look-alikes (another owner, another pattern or kind, a link, one a running escert
// holds) are never touched.
func TestLeftoversOfAKilledRunAreRemovedAndTold(t *testing.T) {
	tests := []struct {
		name   string
		target string // beside which the leftovers lie
		write  func(w Writer, target string) error
		// ours is the leftover to remove; the rest must survive, each made by the
		// function with its name.
		ours      string
		oursIsDir bool
	}{
		{
			name:   "staging directory of WriteTree",
			target: "out",
			write: func(w Writer, target string) error {
				_, err := w.WriteTree(target, bundle(), false, now)
				return err
			},
			ours: ".out.escert-3141592653", oursIsDir: true,
		},
		{
			name:   "temporary file of WriteFile",
			target: "elasticsearch.keystore",
			write:  func(w Writer, target string) error { return w.WriteFile(target, []byte("new"), SecretMode) },
			ours:   ".elasticsearch.keystore.escert-271828",
		},
		{
			name:   "temporary file of ReplaceTogether",
			target: "http.key",
			write: func(w Writer, target string) error {
				return w.ReplaceTogether([]Replacement{{Path: target, Data: []byte("new"), Perm: Perm{Mode: SecretMode, UID: -1, GID: -1}}})
			},
			ours: ".http.key.escert-1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, told := noticing()
			dir := t.TempDir()
			ours := filepath.Join(dir, tt.ours)
			makeEntry(t, ours, tt.oursIsDir)
			other := "." + tt.target + ".escert-"
			survivors := map[string]func(path string){
				other + "abc":                   func(p string) { makeEntry(t, p, tt.oursIsDir) },
				other:                           func(p string) { makeEntry(t, p, tt.oursIsDir) },
				other + "12.bak":                func(p string) { makeEntry(t, p, tt.oursIsDir) },
				tt.target + ".escert-12":        func(p string) { makeEntry(t, p, tt.oursIsDir) },
				".x" + tt.target + ".escert-12": func(p string) { makeEntry(t, p, tt.oursIsDir) },
				other + "13":                    func(p string) { makeEntry(t, p, !tt.oursIsDir) },
				other + "14":                    func(p string) { symlink(t, ours, p) },
				other + "15": func(p string) {
					// A running escert's: it holds a lock on its temporaries.
					makeEntry(t, p, tt.oursIsDir)
					f, err := os.Open(p)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { f.Close() })
					if err := lockTemp(f); err != nil {
						t.Fatal(err)
					}
				},
			}
			if os.Geteuid() == 0 {
				survivors[other+"16"] = func(p string) {
					makeEntry(t, p, tt.oursIsDir)
					if err := os.Lchown(p, 4242, 4242); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				t.Log("not root: cannot make a leftover of another owner")
			}
			for name, make := range survivors {
				make(filepath.Join(dir, name))
			}

			if err := tt.write(w, filepath.Join(dir, tt.target)); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(ours); !os.IsNotExist(err) {
				t.Errorf("the leftover %s is still there (%v)", tt.ours, err)
			}
			for name := range survivors {
				if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
					t.Errorf("%s, not escert's leftover, was touched: %v", name, err)
				}
			}
			if want := []string{"removed the leftover of an interrupted run: " + ours}; !slices.Equal(*told, want) {
				t.Errorf("told %q, want %q", *told, want)
			}
		})
	}
}

// makeEntry creates a leftover-like entry: a directory holding a fake CA key, or a
// file holding a fake keystore.
func makeEntry(t *testing.T, path string, dir bool) {
	t.Helper()
	if !dir {
		if err := os.WriteFile(path, []byte("KEYSTORE"), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(filepath.Join(path, "ca"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "ca", "transport-ca.key"), []byte("CA KEY"), 0o600); err != nil {
		t.Fatal(err)
	}
}
