package cli

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/install"
)

// renewFixture bootstraps at fixedNow with 20-day leaves and installs node1.
func renewFixture(t *testing.T) (config, caDir string) {
	t.Helper()
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	if r := escert(t, nil, "bootstrap", "--instances", in, "--out", out, "--days", "20", "-q"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	config = filepath.Join(dir, "config")
	os.Mkdir(config, 0o750)
	writeFile(t, config, "elasticsearch.yml", "path.data: /var/lib/elasticsearch\n")
	if r := escert(t, nil, "install", "--bundle", filepath.Join(out, "nodes", "node1"), "--es-config", config, "--owner", "-"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	return config, filepath.Join(out, "ca")
}

func TestNeedsRenewalExitCodes(t *testing.T) {
	config, _ := renewFixture(t)
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"20-day certificates are inside a 30-day window", nil, exitRenewNow},
		{"but not inside a 5-day one", []string{"--before", "5d"}, exitNotYet},
		{"nor before two thirds of their life", []string{"--at", "2/3"}, exitNotYet},
		{"bad flag is an error, not 'missing'", []string{"--bogus"}, exitError},
		{"--before and --at conflict", []string{"--before", "5d", "--at", "2/3"}, exitError},
	}
	for _, tc := range cases {
		r := escert(t, nil, append([]string{"needs-renewal", "--es-config", config}, tc.args...)...)
		if r.code != tc.code {
			t.Errorf("%s: exit %d, want %d (%s)", tc.name, r.code, tc.code, r.stderr)
		}
	}
	empty := t.TempDir()
	writeFile(t, empty, "elasticsearch.yml", "path.data: /x\n")
	if r := escert(t, nil, "needs-renewal", "--es-config", empty); r.code != exitMissing {
		t.Errorf("no certificates: exit %d, want %d", r.code, exitMissing)
	}
}

func TestRenewFromCronRenewsOnceThenSaysNotDue(t *testing.T) {
	config, caDir := renewFixture(t)
	marker := filepath.Join(t.TempDir(), "exec-ran")
	r := escert(t, nil, "renew", "--es-config", config, "--ca-dir", caDir, "--before", "5d", "-o", "json")
	if r.code != ExitOK || strings.TrimSpace(r.stdout) != "[]" || !strings.Contains(r.stderr, "not due") {
		t.Fatalf("not due: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = escert(t, nil, "renew", "--es-config", config, "--ca-dir", caDir, "--before", "5d", "--force", "--exec", "echo $ESCERT_RENEWED > "+marker)
	if r.code != ExitOK || !strings.Contains(r.stdout, "renewed transport") || !strings.Contains(r.stdout, "renewed http") {
		t.Fatalf("--force: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	ran, err := os.ReadFile(marker)
	if err != nil || !strings.Contains(string(ran), "transport.p12") {
		t.Errorf("--exec did not run with ESCERT_RENEWED: %q %v", ran, err)
	}
	if r := escert(t, nil, "check", "--es-config", config); r.code != 0 && r.code != 1 {
		t.Errorf("check after renewal: exit %d\n%s", r.code, r.stdout)
	}
}

func TestRenewWaitsJitterAndRespectsTheLock(t *testing.T) {
	config, caDir := renewFixture(t)
	var slept time.Duration
	e := &env{rand: rand.Reader, now: func() time.Time { return fixedNow }, getenv: func(string) string { return "" }, sleep: func(d time.Duration) { slept = d }}
	var stdout, stderr strings.Builder
	if code := run(e, []string{"renew", "--es-config", config, "--ca-dir", caDir, "--before", "5d", "--jitter", "10m"}, &stdout, &stderr); code != ExitOK || slept <= 0 || slept >= 10*time.Minute {
		t.Errorf("jitter: exit %d, slept %v", code, slept)
	}
	unlock, err := install.Lock(config)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if r := escert(t, nil, "renew", "--es-config", config, "--ca-dir", caDir, "--force"); r.code != ExitLocked {
		t.Errorf("locked: exit %d, stderr %q", r.code, r.stderr)
	}
}
