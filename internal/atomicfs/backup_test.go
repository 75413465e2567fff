package atomicfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBackupDirectoriesCanBeListedByTheConfigGroup: Elasticsearch watches its whole
// config directory and will not start when a subdirectory cannot be listed, so the
// backups' directories are 0750 (their files stay 0600).
func TestBackupDirectoriesCanBeListedByTheConfigGroup(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "config")
	if err := os.Mkdir(config, 0o750); err != nil {
		t.Fatal(err)
	}
	dir, err := quiet.Backup(config, now, map[string][]byte{"certs/http.p12": []byte("old"), "elasticsearch.yml": []byte("old")})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(config, "escert-backups"), dir, filepath.Join(dir, "certs")} {
		if info, err := os.Stat(d); err != nil || info.Mode().Perm() != 0o750 {
			t.Errorf("%s: %v %v, want mode 0750", d, info, err)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "certs", "http.p12")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("backed-up http.p12: %v %v, want mode 0600", info, err)
	}
}

// TestBackupsOfOneSecondDoNotOverwriteEachOther: a re-run right after a failure backs
// up into a directory of its own, and nothing to keep makes no directory at all.
func TestBackupsOfOneSecondDoNotOverwriteEachOther(t *testing.T) {
	t.Parallel()
	config := t.TempDir()
	var dirs []string
	for _, content := range []string{"first", "second"} {
		dir, err := quiet.Backup(config, now, map[string][]byte{"elasticsearch.yml": []byte(content)})
		if err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, "elasticsearch.yml")); string(data) != content {
			t.Errorf("%s holds %q, want %q", dir, data, content)
		}
		dirs = append(dirs, dir)
	}
	want := []string{filepath.Join(config, "escert-backups", "20250301T123045Z"), filepath.Join(config, "escert-backups", "20250301T123045Z-2")}
	if !slices.Equal(dirs, want) {
		t.Errorf("backups in %q, want %q", dirs, want)
	}
	if dir, err := quiet.Backup(t.TempDir(), now, nil); dir != "" || err != nil {
		t.Errorf("Backup of nothing = %q, %v; want no directory", dir, err)
	}
}

// TestMakeDirCreatesOnceWithTheModeAsked: a missing directory is made with the mode
// given; an existing one is left as it is.
func TestMakeDirCreatesOnceWithTheModeAsked(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	if err := MakeDir(dir, Perm{Mode: 0o750, UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode() != fs.ModeDir|0o750 {
		t.Fatalf("%s: %v %v, want a 0750 directory", dir, info, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := MakeDir(dir, Perm{Mode: 0o750, UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(dir); info.Mode() != fs.ModeDir|0o700 {
		t.Errorf("an existing directory became %v", info.Mode())
	}
}

// TestWriteIntoAddsBesideWhatTheDirectoryHolds: files go into an existing directory
// (or a new 0700 one) with their modes, next to files it already holds, each
// replaced atomically; a path outside the directory is refused before anything is
// written, and a run that holds the directory's lock keeps the writer out.
func TestWriteIntoAddsBesideWhatTheDirectoryHolds(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	out := filepath.Join(root, "clients")
	files := []File{
		{Path: "kibana.yml", Mode: SecretMode, Data: []byte("keys")},
		{Path: "beats/output.yml", Mode: PublicMode, Data: []byte("output")},
	}
	if err := quiet.WriteInto(out, files); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "http-ca.crt"), []byte("CA"), 0o644); err != nil {
		t.Fatal(err)
	}
	files[0].Data = []byte("new keys")
	if err := quiet.WriteInto(out, files); err != nil {
		t.Fatal(err)
	}
	assertTree(t, out, map[string]entry{
		".":                {mode: fs.ModeDir | 0o700},
		LockFile:           {mode: SecretMode},
		"http-ca.crt":      {mode: 0o644, data: "CA"},
		"kibana.yml":       {mode: SecretMode, data: "new keys"},
		"beats":            {mode: fs.ModeDir | 0o700},
		"beats/output.yml": {mode: PublicMode, data: "output"},
	})

	before := snapshot(t, out)
	outside := append(files, File{Path: "../escaped", Mode: PublicMode, Data: []byte("x")})
	if err := quiet.WriteInto(out, outside); err == nil || !strings.Contains(err.Error(), "outside "+out) {
		t.Errorf("a path outside the directory: %v, want a refusal", err)
	}
	unlock, err := Lock(out)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := quiet.WriteInto(out, files); !errors.Is(err, ErrLocked) {
		t.Errorf("WriteInto under another run's lock = %v, want ErrLocked", err)
	}
	assertTree(t, out, before)
	if _, err := os.Lstat(filepath.Join(root, "escaped")); err == nil {
		t.Error("the file outside the directory was written")
	}
}
