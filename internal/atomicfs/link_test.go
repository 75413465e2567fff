package atomicfs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/escert/escert/internal/fault"
)

// TestWritesThroughASymlinkUpdateWhereItPoints: a file that is a symbolic link (an
// elasticsearch.yml or keystore that a package layout or configuration management
// links elsewhere) is replaced where the link points, atomically in the target's
// directory, and the link stays a link; a dangling link is created through.
func TestWritesThroughASymlinkUpdateWhereItPoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// lay out creates the link in config pointing into real, and returns the
		// link and the file it must end at.
		layOut func(t *testing.T, config, real string) (link, target string)
	}{
		{"absolute link", func(t *testing.T, config, real string) (string, string) {
			return symlink(t, filepath.Join(real, "elasticsearch.yml"), filepath.Join(config, "elasticsearch.yml")), filepath.Join(real, "elasticsearch.yml")
		}},
		{"relative link", func(t *testing.T, config, real string) (string, string) {
			return symlink(t, "../real/elasticsearch.yml", filepath.Join(config, "elasticsearch.yml")), filepath.Join(real, "elasticsearch.yml")
		}},
		{"a link to a link", func(t *testing.T, config, real string) (string, string) {
			symlink(t, "elasticsearch.yml", filepath.Join(real, "current.yml"))
			return symlink(t, filepath.Join(real, "current.yml"), filepath.Join(config, "elasticsearch.yml")), filepath.Join(real, "elasticsearch.yml")
		}},
		{"dangling link", func(t *testing.T, config, real string) (string, string) {
			return symlink(t, filepath.Join(real, "new.yml"), filepath.Join(config, "elasticsearch.yml")), filepath.Join(real, "new.yml")
		}},
	}
	writers := map[string]func(path string, data []byte) error{
		"WriteFile": func(path string, data []byte) error { return quiet.WriteFile(path, data, 0o640) },
		"ReplaceTogether": func(path string, data []byte) error {
			return quiet.ReplaceTogether([]Replacement{{Path: path, Data: data, Perm: Perm{Mode: 0o640, UID: -1, GID: -1}}})
		},
	}
	for _, tt := range tests {
		for wname, write := range writers {
			t.Run(tt.name+"/"+wname, func(t *testing.T) {
				t.Parallel()
				root := t.TempDir()
				config, real := filepath.Join(root, "config"), filepath.Join(root, "real")
				for _, d := range []string{config, real} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(filepath.Join(real, "elasticsearch.yml"), []byte("old\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				link, target := tt.layOut(t, config, real)
				before, _ := os.Readlink(link)
				entries := names(t, config)

				if err := write(link, []byte("new\n")); err != nil {
					t.Fatal(err)
				}
				if got, err := os.Readlink(link); err != nil || got != before {
					t.Fatalf("the link is now %q (%v), want it still a link to %q", got, err, before)
				}
				info, err := os.Lstat(target)
				if err != nil || !info.Mode().IsRegular() || info.Mode().Perm() != 0o640 {
					t.Fatalf("target %s: %v, %v; want a regular file of mode 0640", target, info, err)
				}
				if data, _ := os.ReadFile(target); string(data) != "new\n" {
					t.Errorf("target holds %q, want the new content", data)
				}
				if got := names(t, config); !slices.Equal(got, entries) {
					t.Errorf("config holds %q, want %q", got, entries)
				}
				assertNoLeftovers(t, real)
			})
		}
	}
}

// TestWriteTreeFillsASymlinkedOutputDirectory: an --out that is a symbolic link to a
// directory gets the tree where it points (a replaced tree's backup beside that
// directory), and stays a link.
func TestWriteTreeFillsASymlinkedOutputDirectory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		existing  []File // the target directory's content before; nil: it does not exist
		replace   bool
		wantError bool
	}{
		{name: "missing target", existing: nil},
		{name: "empty target", existing: []File{}},
		{name: "target with content", existing: []File{{Path: "old.key", Mode: SecretMode, Data: []byte("OLD")}}, wantError: true},
		{name: "target with content, replaced", existing: []File{{Path: "old.key", Mode: SecretMode, Data: []byte("OLD")}}, replace: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			target := filepath.Join(root, "volume", "out")
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.existing != nil {
				if _, err := quiet.WriteTree(target, tt.existing, false, now); err != nil {
					t.Fatal(err)
				}
			}
			out := symlink(t, target, filepath.Join(root, "out"))
			before := snapshot(t, filepath.Dir(target))

			backup, err := quiet.WriteTree(out, bundle(), tt.replace, now)
			if tt.wantError {
				if err == nil || err.Error() != out+": output directory is not empty: use --force to replace it (the old one is kept as a backup)" {
					t.Fatalf("WriteTree = %v, want the refusal naming %s", err, out)
				}
				assertTree(t, filepath.Dir(target), before)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.Readlink(out); err != nil || got != target {
				t.Fatalf("--out is now %q (%v), want it still a link to %s", got, err, target)
			}
			if got := snapshot(t, target)["ca/ca.crt"]; got.data != "CA CERT" {
				t.Errorf("the tree did not arrive through the link: ca/ca.crt = %q", got.data)
			}
			want := []string{"out"}
			if tt.replace {
				want = []string{"out", "out.bak-20250301T123045Z"}
				if backup != target+".bak-20250301T123045Z" {
					t.Errorf("backup = %q, want it beside the target", backup)
				}
			}
			if got := names(t, filepath.Dir(target)); !slices.Equal(got, want) {
				t.Errorf("the target's directory holds %q, want %q", got, want)
			}
		})
	}
}

func symlink(t *testing.T, to, link string) string {
	t.Helper()
	if err := os.Symlink(to, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// TestWritesRefuseALinkOfAnotherUser: a link that another user (not root) planted
// where escert writes is not followed, so that user cannot steer root's write onto a
// file of its choice; nothing is written and the link stays.
func TestWritesRefuseALinkOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a link to another user needs root")
	}
	t.Parallel()
	dir := t.TempDir()
	victim := filepath.Join(dir, "passwd")
	if err := os.WriteFile(victim, []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := symlink(t, victim, filepath.Join(dir, "http.p12"))
	if err := os.Lchown(link, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	out := symlink(t, dir, filepath.Join(dir, "out"))
	if err := os.Lchown(out, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		path  string
		write func() error
	}{
		{"WriteFile", link, func() error { return quiet.WriteFile(link, []byte("P12"), SecretMode) }},
		{"WriteTree", out, func() error { _, err := quiet.WriteTree(out, bundle(), true, now); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write()
			var in *fault.InputError
			if !errors.As(err, &in) || !strings.Contains(err.Error(), tt.path+": a symbolic link of uid 4242, which escert running as uid 0 does not follow") {
				t.Fatalf("write through another user's link = %v, want an InputError naming the link", err)
			}
			if data, _ := os.ReadFile(victim); string(data) != "root:x:0:0\n" {
				t.Errorf("the link's target was written: %q", data)
			}
			if got, err := os.Readlink(tt.path); err != nil || got == "" {
				t.Errorf("the link is gone: %v", err)
			}
		})
	}
}
