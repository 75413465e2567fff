package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Check reports.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, f) }

func TestCheckPassesOnEqualBytesAndNamesEachDifferingLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	same := &recorder{TB: t}
	Check(same, path, []byte("a\nb\nc\n"))
	if len(same.errors) != 0 {
		t.Fatalf("equal content reported %v", same.errors)
	}
	diff := &recorder{TB: t}
	Check(diff, path, []byte("a\nB\nc\n"))
	if len(diff.errors) != 2 || !strings.Contains(diff.errors[0], "line") {
		t.Fatalf("one changed line: reported %q, want that line and the summary", diff.errors)
	}
}
