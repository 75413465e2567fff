package atomicfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/fault"
)

// quiet is the writer of the tests that expect nothing to be told.
var quiet Writer

// now is the fixed clock every test passes to WriteTree; it names backups.
var now = time.Date(2025, 3, 1, 12, 30, 45, 0, time.UTC)

// bundle is a typical tree: a secret and a public file per instance, nested one level.
func bundle() []File {
	return []File{
		{Path: "ca/ca.crt", Mode: PublicMode, Data: []byte("CA CERT")},
		{Path: "nodes/node1/transport.key", Mode: SecretMode, Data: []byte("NODE1 KEY")},
		{Path: "nodes/node1/transport.crt", Mode: PublicMode, Data: []byte("NODE1 CERT")},
		{Path: "README.txt", Mode: PublicMode, Data: []byte("read me")},
		{Path: "empty.txt", Mode: SecretMode, Data: nil},
	}
}

// bundleTree is the tree bundle() becomes: every file with its exact mode, every
// directory 0700.
func bundleTree() map[string]entry {
	return map[string]entry{
		".":                         {mode: fs.ModeDir | 0o700},
		"README.txt":                {mode: 0o644, data: "read me"},
		"empty.txt":                 {mode: 0o600},
		"ca":                        {mode: fs.ModeDir | 0o700},
		"ca/ca.crt":                 {mode: 0o644, data: "CA CERT"},
		"nodes":                     {mode: fs.ModeDir | 0o700},
		"nodes/node1":               {mode: fs.ModeDir | 0o700},
		"nodes/node1/transport.crt": {mode: 0o644, data: "NODE1 CERT"},
		"nodes/node1/transport.key": {mode: 0o600, data: "NODE1 KEY"},
	}
}

// snapshot maps every path under root (slash-separated, relative) to its mode and,
// for files, content, so a test can compare whole trees.
type entry struct {
	mode fs.FileMode
	data string
}

func snapshot(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{mode: info.Mode()}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			e.data = string(b)
		}
		out[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// names lists the entries of dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// assertNoLeftovers fails when dir holds a staging directory or temp file of escert.
func assertNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	for _, name := range names(t, dir) {
		if strings.Contains(name, ".escert-") {
			t.Errorf("%s left behind in %s", name, dir)
		}
	}
}

func TestWriteTreeCreatesEveryFileWithItsExactMode(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	out := filepath.Join(parent, "certs")
	backup, err := quiet.WriteTree(out, bundle(), false, now)
	if err != nil {
		t.Fatal(err)
	}
	if backup != "" {
		t.Errorf("backup = %q for a new directory, want none", backup)
	}
	assertTree(t, out, bundleTree())
	if got := names(t, parent); !slices.Equal(got, []string{"certs"}) {
		t.Errorf("parent holds %q, want only certs (no staging directory)", got)
	}
}

func assertTree(t *testing.T, root string, want map[string]entry) {
	t.Helper()
	got := snapshot(t, root)
	for path, w := range want {
		g, ok := got[path]
		switch {
		case !ok:
			t.Errorf("%s is missing", path)
		case g != w:
			t.Errorf("%s: mode %v content %q, want mode %v content %q", path, g.mode, g.data, w.mode, w.data)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("unexpected %s", path)
		}
	}
}

func TestWriteTreeCreatesMissingParents(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "a", "b", "certs")
	if _, err := quiet.WriteTree(out, bundle(), false, now); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "ca", "ca.crt")); err != nil {
		t.Error(err)
	}
}

func TestWriteTreeReplacesAnEmptyDirectoryWithoutBackup(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	out := filepath.Join(parent, "certs")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	backup, err := quiet.WriteTree(out, bundle(), false, now)
	if err != nil {
		t.Fatalf("WriteTree into an empty directory: %v", err)
	}
	if backup != "" {
		t.Errorf("backup = %q, want none for an empty directory", backup)
	}
	if got := names(t, parent); !slices.Equal(got, []string{"certs"}) {
		t.Errorf("parent holds %q, want only certs", got)
	}
	if info, err := os.Stat(out); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("output directory: %v, %v; want mode 0700", info.Mode(), err)
	}
}

func TestWriteTreeRefusesANonEmptyDirectoryAndLeavesItUntouched(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	out := filepath.Join(parent, "certs")
	if err := os.MkdirAll(filepath.Join(out, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "old", "node.key"), []byte("OLD KEY"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out)

	backup, err := quiet.WriteTree(out, bundle(), false, now)
	if !errors.Is(err, ErrNotEmpty) || fault.KindOf(err) != fault.Exists {
		t.Fatalf("WriteTree = %v (kind %v), want ErrNotEmpty of kind exists", err, fault.KindOf(err))
	}
	if want := out + ": output directory is not empty: use --force to replace it (the old one is kept as a backup)"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if backup != "" {
		t.Errorf("backup = %q after a refusal", backup)
	}
	assertTree(t, out, before)
	if got := names(t, parent); !slices.Equal(got, []string{"certs"}) {
		t.Errorf("parent holds %q, want only certs", got)
	}
}

func TestWriteTreeReplaceKeepsTheOldTreeAsBackup(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	out := filepath.Join(parent, "certs")
	if _, err := quiet.WriteTree(out, []File{{Path: "nodes/node1/transport.key", Mode: SecretMode, Data: []byte("OLD KEY")}}, false, now); err != nil {
		t.Fatal(err)
	}
	old := snapshot(t, out)

	backup, err := quiet.WriteTree(out, bundle(), true, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := out + ".bak-20250301T123045Z"; backup != want {
		t.Errorf("backup = %q, want %q", backup, want)
	}
	assertTree(t, backup, old)
	if got := snapshot(t, out)["nodes/node1/transport.key"]; got.data != "NODE1 KEY" {
		t.Errorf("new transport.key = %q, want the new content", got.data)
	}
	if got := names(t, parent); !slices.Equal(got, []string{"certs", "certs.bak-20250301T123045Z"}) {
		t.Errorf("parent holds %q, want the tree and its backup only", got)
	}
}

func TestWriteTreeBackupNameUsesUTC(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	out := filepath.Join(parent, "certs")
	if _, err := quiet.WriteTree(out, bundle(), false, now); err != nil {
		t.Fatal(err)
	}
	local := now.In(time.FixedZone("UTC+5", 5*3600))
	backup, err := quiet.WriteTree(out, bundle(), true, local)
	if err != nil {
		t.Fatal(err)
	}
	if want := out + ".bak-20250301T123045Z"; backup != want {
		t.Errorf("backup = %q, want %q", backup, want)
	}
}

func TestWriteTreeReplaceFailsWhenTheBackupNameIsTaken(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	out := filepath.Join(parent, "certs")
	if _, err := quiet.WriteTree(out, bundle(), false, now); err != nil {
		t.Fatal(err)
	}
	if _, err := quiet.WriteTree(out, bundle(), true, now); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, parent)
	// A second replace within the same second finds its backup name taken by a
	// non-empty directory: it must fail without touching either tree.
	if _, err := quiet.WriteTree(out, []File{{Path: "x", Mode: PublicMode, Data: []byte("new")}}, true, now); err == nil {
		t.Fatal("WriteTree succeeded although the backup name is taken")
	}
	assertTree(t, parent, before)
}

func TestWriteTreeFailureLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []File
		wantErr string
	}{
		{
			name:    "path escaping the root",
			files:   append(bundle(), File{Path: "../x", Mode: SecretMode, Data: []byte("escape")}),
			wantErr: `refusing to write "../x" outside the output directory`,
		},
		{
			name:    "path escaping the root after a clean",
			files:   append(bundle(), File{Path: "nodes/../../x", Mode: SecretMode, Data: []byte("escape")}),
			wantErr: `refusing to write "nodes/../../x" outside the output directory`,
		},
		{
			name:    "absolute path",
			files:   append(bundle(), File{Path: "/tmp/x", Mode: SecretMode, Data: []byte("escape")}),
			wantErr: `refusing to write "/tmp/x" outside the output directory`,
		},
		{
			name:    "empty path",
			files:   append(bundle(), File{Path: "", Mode: SecretMode}),
			wantErr: `refusing to write "" outside the output directory`,
		},
		{
			name: "file where a directory must go",
			files: append(bundle(),
				File{Path: "nodes/node1/transport.key/extra", Mode: PublicMode, Data: []byte("x")}),
			wantErr: "/certs/nodes/node1/transport.key/extra: not a directory",
		},
		{
			name:    "same path twice",
			files:   append(bundle(), File{Path: "ca/ca.crt", Mode: PublicMode, Data: []byte("again")}),
			wantErr: "/certs/ca/ca.crt: file exists",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			out := filepath.Join(parent, "certs")
			backup, err := quiet.WriteTree(out, tt.files, false, now)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("WriteTree = %v, want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), ".escert-") {
				t.Errorf("error %q names the staging directory, which the user never sees", err)
			}
			if backup != "" {
				t.Errorf("backup = %q after a failure", backup)
			}
			if got := names(t, parent); len(got) != 0 {
				t.Errorf("parent holds %q after a failure, want nothing", got)
			}
			if _, err := os.Stat(filepath.Join(parent, "..", "x")); err == nil {
				t.Errorf("a file escaped the output directory")
			}
		})
	}
}

func TestWriteTreeFailureWhileReplacingKeepsTheOldTree(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	out := filepath.Join(parent, "certs")
	if _, err := quiet.WriteTree(out, bundle(), false, now); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, parent)
	bad := append(bundle(), File{Path: "../escape", Mode: SecretMode})
	backup, err := quiet.WriteTree(out, bad, true, now.Add(time.Hour))
	if err == nil {
		t.Fatal("WriteTree accepted a path outside the root")
	}
	if backup != "" {
		t.Errorf("backup = %q after a failure", backup)
	}
	assertTree(t, parent, before)
}

func TestWriteTreeRefusesAFileInPlaceOfTheDirectory(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	out := filepath.Join(parent, "certs")
	if err := os.WriteFile(out, []byte("not a dir"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := quiet.WriteTree(out, bundle(), true, now); err == nil {
		t.Fatal("WriteTree replaced a regular file")
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "not a dir" {
		t.Errorf("file changed: %q, %v", b, err)
	}
	if got := names(t, parent); !slices.Equal(got, []string{"certs"}) {
		t.Errorf("parent holds %q", got)
	}
}

func TestWriteFileCreatesWithMode(t *testing.T) {
	t.Parallel()
	for _, mode := range []fs.FileMode{SecretMode, PublicMode} {
		dir := t.TempDir()
		path := filepath.Join(dir, "node.key")
		if err := quiet.WriteFile(path, []byte("KEY"), mode); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("mode = %v, want %v", info.Mode(), mode)
		}
		if got := names(t, dir); !slices.Equal(got, []string{"node.key"}) {
			t.Errorf("directory holds %q, want only node.key", got)
		}
	}
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	if err := os.WriteFile(path, []byte("OLD CONTENT THAT IS LONGER"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Hold the old file open: an atomic replace swaps the directory entry, so the old
	// inode keeps its content; an in-place write would change what the reader sees.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	oldInfo, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}

	if err := quiet.WriteFile(path, []byte("NEW"), SecretMode); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "NEW" {
		t.Fatalf("content = %q, %v; want NEW", got, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != SecretMode {
		t.Errorf("mode = %v, want %v (the new mode, not the old file's)", info.Mode(), SecretMode)
	}
	if os.SameFile(oldInfo, info) {
		t.Error("WriteFile rewrote the old file in place")
	}
	var old bytes.Buffer
	if _, err := old.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	if old.String() != "OLD CONTENT THAT IS LONGER" {
		t.Errorf("a reader of the old file saw %q", old.String())
	}
	assertNoLeftovers(t, dir)
	if got := names(t, dir); !slices.Equal(got, []string{"node.key"}) {
		t.Errorf("directory holds %q, want only node.key", got)
	}
}

func TestWriteFileFailureLeavesNoTempFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The target is a non-empty directory: the rename must fail and clean up.
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := quiet.WriteFile(target, []byte("data"), SecretMode)
	if err == nil {
		t.Fatal("WriteFile replaced a directory")
	}
	if !strings.HasPrefix(err.Error(), "write "+target+": ") {
		t.Errorf("error = %q, want it to name the target", err)
	}
	assertNoLeftovers(t, dir)
	if got := names(t, dir); !slices.Equal(got, []string{"target"}) {
		t.Errorf("directory holds %q, want only target", got)
	}
}

func TestWriteErrorsNameTheGivenPathNotATemporaryFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	busy := filepath.Join(dir, "busy")
	if err := os.MkdirAll(filepath.Join(busy, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busy", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing directory", filepath.Join(dir, "missing", "node.key"),
			"write " + filepath.Join(dir, "missing", "node.key") + ": the directory " + filepath.Join(dir, "missing") + " does not exist: create it first"},
		{"a directory in the way", busy, "write " + busy + ": file exists"},
		{"a link to a directory in the way", filepath.Join(dir, "link"),
			"write " + filepath.Join(dir, "link") + " (a link to " + busy + "): file exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := quiet.WriteFile(tt.path, []byte("x"), SecretMode)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("WriteFile = %v, want %q", err, tt.want)
			}
		})
	}
	assertNoLeftovers(t, dir)
}
