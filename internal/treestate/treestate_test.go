package treestate

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestChangesSeesContentModeLinkCreationAndRemoval(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("same", "x", 0o600)
	write("content", "a", 0o600)
	write("mode", "m", 0o600)
	write("gone", "g", 0o600)
	write(".lock", "", 0o600)
	if err := os.Symlink("same", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	before := Of(t, dir, ".lock")

	write("content", "b", 0o600)
	if err := os.Chmod(filepath.Join(dir, "mode"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "gone"))
	os.Remove(filepath.Join(dir, "link"))
	if err := os.Symlink("content", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	write("new", "n", 0o600)
	write(".lock", "held", 0o600)

	want := []string{"changed content", "changed link", "changed mode", "created new", "removed gone"}
	if got := Changes(before, Of(t, dir, ".lock")); !slices.Equal(got, want) {
		t.Errorf("Changes = %v, want %v", got, want)
	}
	if got := Changes(before, before); len(got) != 0 {
		t.Errorf("a tree differs from itself: %v", got)
	}
}
