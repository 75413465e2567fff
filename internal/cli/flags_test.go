package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestOutputOtherThanTextOrJSONIsEachCommandsUsageError(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"version"}, ExitUsage},
		{[]string{"bootstrap", "--instances", "i.yml", "--out", "o"}, ExitUsage},
		{[]string{"inspect", "x.crt"}, ExitUsage},
		{[]string{"renew", "--es-config", "c", "--ca-dir", "ca"}, ExitUsage},
		{[]string{"install", "--bundle", "b", "--es-config", "c"}, ExitUsage},
		{[]string{"client-config", "--bundle", "b"}, ExitUsage},
		// check, needs-renewal and probe keep their monitoring contracts: a usage
		// error is Nagios's UNKNOWN (3) and step's "any other error" (255).
		{[]string{"check", "--es-config", "c"}, 3},
		{[]string{"needs-renewal", "--es-config", "c"}, 255},
		{[]string{"probe", "localhost"}, probeUnknown},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			r := escert(t, nil, append(tc.args, "-o", "xml")...)
			if r.code != tc.code || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, `"xml" is not an output format: use text or json`) {
				t.Fatalf("exit %d, stderr %q; want exit %d and one line refusing xml", r.code, r.stderr, tc.code)
			}
		})
	}
}

func TestMissingFlagPointsAtTheCommandsOwnHelp(t *testing.T) {
	for _, args := range [][]string{{"ca", "rotate", "begin"}, {"ca", "create"}, {"bootstrap"}} {
		r := escert(t, nil, args...)
		want := "(see escert " + strings.Join(args, " ") + " --help)"
		if r.code != ExitUsage || !strings.Contains(r.stderr, want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", args, r.code, r.stderr, want)
		}
	}
}

func TestQuietPrintsOnlyWarningsAndErrors(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", "instances:\n  - name: node1\n    dns: [node1.example.com]\n")
	pass := map[string]string{"ESCERT_CA_PASSWORD": "a CA passphrase"}
	for _, args := range [][]string{
		{"bootstrap", "--instances", in, "--out", filepath.Join(dir, "out"), "-q"},
		{"ca", "create", "--out", filepath.Join(dir, "ca"), "-q"},
		{"cert", "--name", "node4", "--ca-dir", filepath.Join(dir, "ca"), "--dns", "node4.example.com", "--out", filepath.Join(dir, "node4"), "--quiet"},
	} {
		r := escert(t, pass, args...)
		if r.code != ExitOK || r.stdout != "" || r.stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 0 and nothing printed", args[:2], r.code, r.stdout, r.stderr)
		}
	}
}
