package cli

import (
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
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
		{"bad flag is an error, not 'missing'", []string{"--bogus"}, exitNeedsRenewalError},
		{"--before and --at conflict", []string{"--before", "5d", "--at", "2/3"}, exitNeedsRenewalError},
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
	unlock, err := atomicfs.Lock(config)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if r := escert(t, nil, "renew", "--es-config", config, "--ca-dir", caDir, "--force"); r.code != ExitLocked {
		t.Errorf("locked: exit %d, stderr %q", r.code, r.stderr)
	}
}

// --exec runs an operator's hook (a reload, a notification): it gets ESCERT_RENEWED and
// the environment, never the secrets escert itself was given.
func TestRenewExecGetsNoSecretVariables(t *testing.T) {
	config, caDir := renewFixture(t)
	for _, name := range secretEnv {
		t.Setenv(name, "secret-value-of-"+name)
	}
	t.Setenv("ESCERT_TEST_KEPT", "kept")
	t.Setenv("ESCERT_RENEWED", "inherited")
	printed := filepath.Join(t.TempDir(), "env")
	if r := escert(t, nil, "renew", "--es-config", config, "--ca-dir", caDir, "--force", "--exec", "env > "+printed); r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(printed)
	if err != nil {
		t.Fatal(err)
	}
	env := string(data)
	if strings.Contains(env, "secret-value-of-") {
		t.Errorf("the --exec child got escert's secrets:\n%s", env)
	}
	renewed := regexp.MustCompile(`(?m)^ESCERT_RENEWED=(.*)$`).FindAllStringSubmatch(env, -1)
	if len(renewed) != 1 || !strings.Contains(renewed[0][1], "transport.p12") || !strings.Contains(env, "\nESCERT_TEST_KEPT=kept\n") || !strings.Contains(env, "\nPATH=") {
		t.Errorf("want one ESCERT_RENEWED naming the files, and the rest of the environment:\n%s", env)
	}
}

// secretEnv is the one list of the variables escert reads secrets from: every one the
// commands hand readSecret or newPassword, beside the file flag it stands in for.
func TestSecretEnvNamesEverySecretVariableTheCLIReads(t *testing.T) {
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, src := range sources {
		if strings.HasSuffix(src, "_test.go") {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?:readSecret|newPassword)\(.*"(ESCERT_[A-Z0-9_]+)", "--`).FindAllStringSubmatch(string(data), -1) {
			named[m[1]] = true
		}
	}
	if got, want := slices.Sorted(maps.Keys(named)), slices.Sorted(slices.Values(secretEnv)); !slices.Equal(got, want) {
		t.Errorf("the commands read %v, secretEnv lists %v", got, want)
	}
}

func TestRenewWithAnotherCANamesEachCAOnce(t *testing.T) {
	config, _ := renewFixture(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	cases := []struct {
		name    string
		cluster string
		want    string
	}{
		{"a CA of the same name", "elasticsearch", `was issued by a CA other than the one given, though both are named "escert elasticsearch transport CA"`},
		{"a CA of another name", "other", `was issued by "escert elasticsearch transport CA", not by the CA given ("escert other transport CA")`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.cluster)
			if r := escert(t, nil, "bootstrap", "--instances", in, "--out", out, "--cluster-name", tc.cluster, "-q"); r.code != ExitOK {
				t.Fatal(r.stderr)
			}
			r := escert(t, nil, "renew", "--es-config", config, "--ca-dir", filepath.Join(out, "ca"), "--force")
			want := "escert: transport certificate: " + filepath.Join(config, "certs", "transport.p12") + ": " + tc.want +
				": point --ca-dir at the CA that issued it, or change CAs with escert ca rotate\n"
			if r.code != ExitInput || r.stderr != want {
				t.Errorf("exit %d, stderr\n%s want %d,\n%s", r.code, r.stderr, ExitInput, want)
			}
		})
	}
}

// A CA ending inside the renewal window cannot be renewed around: renew carries the
// node to the CA's last day, runs --exec for what it replaced, and exits 3 naming the
// CA so cron notices; a second run has nothing left to renew and says the same.
func TestRenewWhenTheCAEndsInsideTheWindowRenewsToItsEndAndExits3(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	if r := escert(t, nil, "bootstrap", "--instances", in, "--out", out, "--days", "20", "--ca-days", "25", "-q"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	config := filepath.Join(dir, "config")
	os.Mkdir(config, 0o750)
	writeFile(t, config, "elasticsearch.yml", "path.data: /var/lib/elasticsearch\n")
	if r := escert(t, nil, "install", "--bundle", filepath.Join(out, "nodes", "node1"), "--es-config", config, "--owner", "-"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	// Ten days on, the leaves have ten days left and the CA fifteen, inside the 30-day window.
	now := func() time.Time { return fixedNow.AddDate(0, 0, 10) }
	caEnd := fixedNow.AddDate(0, 0, 25).Format(time.DateOnly)
	message := fmt.Sprintf(`escert: the transport CA "escert elasticsearch transport CA" expires %s and the http CA "escert elasticsearch http CA" expires %s, inside the renewal window: no certificate can outlive its CA, so renewing cannot help: rotate the CA (escert ca rotate begin)`+"\n", caEnd, caEnd)
	marker := filepath.Join(dir, "exec-ran")
	runs := []struct {
		name    string
		renewed int
	}{
		{"first run", 2},
		{"second run", 0},
	}
	for _, run := range runs {
		os.Remove(marker)
		r := escertAt(t, now, nil, "renew", "--es-config", config, "--ca-dir", filepath.Join(out, "ca"), "--exec", "touch "+marker)
		lines := strings.Split(r.stderr, "\n")
		if r.code != ExitInput || lines[len(lines)-2]+"\n" != message || strings.Count(r.stdout, "expires "+caEnd) != run.renewed {
			t.Errorf("%s: exit %d, want %d, %d renewed to %s and the last line\n%s\nstdout: %s\nstderr: %s", run.name, r.code, ExitInput, run.renewed, caEnd, message, r.stdout, r.stderr)
		}
		if _, err := os.Stat(marker); (err == nil) != (run.renewed > 0) {
			t.Errorf("%s: --exec ran: %v, want it to run only when files were replaced", run.name, err == nil)
		}
	}
}

func TestRenewRefusesBadInputInOneLine(t *testing.T) {
	config, caDir := renewFixture(t)
	zeroKeystore := t.TempDir()
	copyFile := func(name string) {
		data, err := os.ReadFile(filepath.Join(config, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(zeroKeystore, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("elasticsearch.yml")
	if err := os.Symlink("/dev/zero", filepath.Join(zeroKeystore, "elasticsearch.keystore")); err != nil {
		t.Fatal(err)
	}
	zeroKey := t.TempDir()
	writeFile(t, zeroKey, "elasticsearch.yml", "xpack.security.http.ssl.enabled: true\nxpack.security.http.ssl.key: /dev/zero\nxpack.security.http.ssl.certificate: http.crt\n")
	cases := []struct {
		name, config, want string
	}{
		{"a typo'd --es-config", config + "x", "escert: --es-config " + config + "x: no such file or directory: point it at the node's config directory (the one holding elasticsearch.yml)\n"},
		{"an endless device as elasticsearch.keystore", zeroKeystore, "escert: " + filepath.Join(zeroKeystore, "elasticsearch.keystore") + ": larger than an elasticsearch.keystore can be (64 MiB): check the path names the right file\n"},
		{"an endless device as the key", zeroKey, "escert: /dev/zero: larger than a key file can be (1 MiB): check the path names the right file\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := escert(t, nil, "renew", "--es-config", tc.config, "--ca-dir", caDir, "--force")
			if r.code != ExitInput || r.stderr != tc.want {
				t.Errorf("exit %d, stderr %q; want %d, %q", r.code, r.stderr, ExitInput, tc.want)
			}
		})
	}
}
