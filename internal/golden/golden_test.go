package golden

import (
	"os"
	"testing"
)

// TestCheckReadsTheGoldenFileBelowTestdata: the file named is found below testdata/,
// and equal bytes pass.
func TestCheckReadsTheGoldenFileBelowTestdata(t *testing.T) {
	if *update {
		t.Skip("-update rewrites what this test reads")
	}
	want, err := os.ReadFile("testdata/sample.golden")
	if err != nil || string(want) != "two lines\nof golden text\n" {
		t.Fatalf("testdata/sample.golden: %q, %v", want, err)
	}
	Check(t, "sample.golden", want)
}
