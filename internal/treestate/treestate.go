// Package treestate records a directory tree as tests compare it: every entry's type
// and mode, a file's content hash and a link's target. It is how a test proves that a
// refused or dry run left every file as it was.
package treestate

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// State maps each entry's slash-separated path below the root to its description.
type State map[string]string

// Of records the tree below dir, leaving out entries named in skip (such as escert's
// lock file, which every writer creates on first use and never removes).
func Of(t testing.TB, dir string, skip ...string) State {
	t.Helper()
	state := State{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if slices.Contains(skip, d.Name()) {
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		v := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			v += " -> " + target
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			v += " " + hex.EncodeToString(sum[:])
		}
		rel, _ := filepath.Rel(dir, p)
		state[filepath.ToSlash(rel)] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// Changes lists, sorted, what differs from before to after: "created P", "removed P"
// or "changed P". Empty means the trees are the same.
func Changes(before, after State) []string {
	var changes []string
	for p, v := range before {
		if w, ok := after[p]; !ok {
			changes = append(changes, "removed "+p)
		} else if w != v {
			changes = append(changes, "changed "+p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			changes = append(changes, "created "+p)
		}
	}
	sort.Strings(changes)
	return changes
}
