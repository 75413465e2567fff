//go:build unix

package atomicfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestABindMountedFileIsRewrittenInPlaceAfterABackup: a single file bind-mounted
// into the config directory (Docker's -v elasticsearch.yml:...), which every rename
// refuses with EBUSY, is rewritten in place once its old content is copied beside
// it, and the user is told that this write was not atomic and where the copy is.
func TestABindMountedFileIsRewrittenInPlaceAfterABackup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind-mounting a file needs root")
	}
	w, told := noticing()
	root := t.TempDir()
	host := filepath.Join(root, "host.yml")
	config := filepath.Join(root, "config")
	target := filepath.Join(config, "elasticsearch.yml")
	if err := os.Mkdir(config, 0o750); err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string]string{host: "old: host\n", target: "image: default\n"} {
		if err := os.WriteFile(path, []byte(data), 0o660); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("mount", "--bind", host, target).CombinedOutput(); err != nil {
		t.Skipf("mount --bind: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", target).Run() })

	tests := []struct {
		name  string
		write func() error
	}{
		{"WriteFile", func() error { return w.WriteFile(target, []byte("new: one\n"), 0o640) }},
		{"ReplaceTogether", func() error {
			return w.ReplaceTogether([]Replacement{{Path: target, Data: []byte("new: two, longer than before\n"), Perm: Perm{Mode: 0o640, UID: -1, GID: -1}}})
		}},
	}
	previous := "old: host\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*told = nil
			if err := tt.write(); err != nil {
				t.Fatalf("write over the bind mount: %v", err)
			}
			data, _ := os.ReadFile(host)
			current, _ := os.ReadFile(target)
			if string(data) == previous || string(current) != string(data) {
				t.Fatalf("the mounted file holds %q (seen in the config directory as %q): not rewritten in place", data, current)
			}
			if info, _ := os.Stat(host); info.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640", info.Mode().Perm())
			}
			backups, _ := filepath.Glob(filepath.Join(config, "elasticsearch.yml.escert-backup-*"))
			var backup string
			for _, b := range backups {
				if old, _ := os.ReadFile(b); string(old) == previous {
					backup = b
				}
			}
			if backup == "" {
				t.Fatalf("no backup holding %q among %v", previous, backups)
			}
			if info, _ := os.Stat(backup); info.Mode().Perm() != 0o600 {
				t.Errorf("backup mode %v, want 0600", info.Mode().Perm())
			}
			if len(*told) != 1 || !strings.Contains((*told)[0], target+" is a mount point") || !strings.Contains((*told)[0], "not atomic") || !strings.Contains((*told)[0], backup) {
				t.Errorf("told %q, want one warning naming %s, why it was not atomic, and %s", *told, target, backup)
			}
			for _, name := range names(t, config) {
				if strings.HasPrefix(name, tempPrefix(target)) {
					t.Errorf("temporary file %s left behind", name)
				}
			}
			previous = string(data)
		})
	}
}

// noticing is a Writer that records what it tells.
func noticing() (Writer, *[]string) {
	var told []string
	return Writer{Notify: func(msg string) { told = append(told, msg) }}, &told
}
