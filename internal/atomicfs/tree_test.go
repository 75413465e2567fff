package atomicfs

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

func TestStagedTreeFilledConcurrentlyAppearsWholeOnlyAtCommit(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	tree, err := quiet.StageTree(out, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Discard()
	var wg sync.WaitGroup
	errs := make(chan error, len(bundle()))
	for _, f := range bundle() {
		wg.Go(func() { errs <- tree.Add(f) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("before Commit, %s exists (err %v): a reader could see half a tree", out, err)
	}
	backup, err := tree.Commit(now)
	if err != nil || backup != "" {
		t.Fatalf("Commit = %q, %v", backup, err)
	}
	if got := snapshot(t, out); !reflect.DeepEqual(got, bundleTree()) {
		t.Errorf("tree = %v\nwant %v", got, bundleTree())
	}
	assertNoLeftovers(t, parent)
	if _, err := tree.Commit(now); err == nil {
		t.Error("a second Commit succeeded")
	}
}

func TestDiscardedTreeLeavesNothingAndKeepsTheOldTree(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	if _, err := quiet.WriteTree(out, []File{{Path: "old.key", Mode: SecretMode, Data: []byte("OLD")}}, false, now); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out)
	tree, err := quiet.StageTree(out, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Add(bundle()...); err != nil {
		t.Fatal(err)
	}
	tree.Discard()
	tree.Discard() // a deferred Discard after an explicit one is harmless
	if got := snapshot(t, out); !reflect.DeepEqual(got, before) {
		t.Errorf("after Discard, out = %v, want it unchanged %v", got, before)
	}
	assertNoLeftovers(t, parent)
	if _, err := tree.Commit(now); err == nil {
		t.Error("Commit after Discard succeeded")
	}
}

func TestStagedTreeAddRefusesAPathOutsideAndNamesTheFileAsTheUserSeesIt(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	tree, err := quiet.StageTree(out, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Discard()
	if err := tree.Add(File{Path: "../escape", Mode: PublicMode}); err == nil {
		t.Error("Add of ../escape succeeded")
	}
	if err := tree.Add(File{Path: "a", Mode: PublicMode}); err != nil {
		t.Fatal(err)
	}
	err = tree.Add(File{Path: "a", Mode: PublicMode})
	if want := fmt.Sprintf("write %s:", filepath.Join(out, "a")); err == nil || err.Error()[:len(want)] != want {
		t.Errorf("Add of an existing file: %v, want an error starting %q", err, want)
	}
}
