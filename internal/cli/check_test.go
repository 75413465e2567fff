package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/escert/escert/internal/check"
	"github.com/escert/escert/internal/realtest"
)

// checkedNode bootstraps a node with extra bootstrap flags and installs it the way an
// operator would: nodes/node1 copied into a config directory, the settings block
// appended to the elasticsearch.yml Elasticsearch ships, plus extra lines. The check
// sees no processes and an Elasticsearch user that owns none of the files.
func checkedNode(t *testing.T, extra string, bootstrapArgs ...string) string {
	t.Helper()
	oldProc, oldIdentity := checkProc, checkIdentity
	checkProc, checkIdentity = fstest.MapFS{}, &check.Identity{Name: "elasticsearch", UID: 4242424, GID: -1}
	t.Cleanup(func() { checkProc, checkIdentity = oldProc, oldIdentity })

	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	args := append([]string{"bootstrap", "--instances", in, "--out", out, "--quiet"}, bootstrapArgs...)
	if r := escert(t, nil, args...); r.code != ExitOK {
		t.Fatalf("bootstrap: exit %d: %s", r.code, r.stderr)
	}
	node := filepath.Join(out, "nodes", "node1")
	config := filepath.Join(dir, "config")
	if err := os.CopyFS(config, os.DirFS(node)); err != nil {
		t.Fatal(err)
	}
	// os.CopyFS makes files 0644 or 0755: put the bundle's modes back.
	filepath.Walk(node, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(node, p)
			os.Chmod(filepath.Join(config, rel), info.Mode().Perm())
		}
		return nil
	})
	shipped, err := os.ReadFile(filepath.Join("..", "check", "testdata", "elasticsearch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	block, err := os.ReadFile(filepath.Join(node, "elasticsearch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(config, "elasticsearch.yml"), []byte(string(shipped)+"\n"+string(block)+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return config
}

const auditOn = "xpack.security.audit.enabled: true\n"

func TestCheckExitCodesFollowTheWorstFinding(t *testing.T) {
	cases := []struct {
		name  string
		extra string
		args  []string
		code  int
		want  string
	}{
		{"clean", auditOn, nil, 0, "clean: "},
		{"warnings only", "", nil, 1, "warning audit-disabled elasticsearch.yml [xpack.security.audit.enabled]: "},
		{"certificates expiring within --warn-days", auditOn, []string{"--warn-days", "400"}, 1, "warning cert-expiring "},
		{"a problem", auditOn + "bootstrap.password: hunter2-in-the-yml\n", nil, 2, "problem plaintext-secret elasticsearch.yml:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config := checkedNode(t, tc.extra)
			r := escert(t, nil, append([]string{"check", "--es-config", config}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			if r.stderr != "" {
				t.Errorf("stderr is not empty: %q", r.stderr)
			}
			if !strings.Contains(r.stdout, tc.want) {
				t.Errorf("stdout lacks %q:\n%s", tc.want, r.stdout)
			}
			if strings.Contains(r.stdout, "hunter2") {
				t.Error("a plaintext secret's value was printed")
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	config := checkedNode(t, "bootstrap.password: hunter2-in-the-yml\n")
	r := escert(t, nil, "check", "--es-config", config, "-o", "json")
	if r.code != 2 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var report struct {
		Findings []check.Finding `json:"findings"`
		Summary  check.Summary   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if report.Summary != (check.Summary{Problems: 1, Warnings: 1}) || len(report.Findings) != 2 {
		t.Fatalf("report: %s", r.stdout)
	}
	if f := report.Findings[0]; f.ID != "plaintext-secret" || f.Setting != "bootstrap.password" || f.Line == 0 {
		t.Errorf("first finding: %+v", f)
	}
	if strings.Contains(r.stdout, "hunter2") {
		t.Error("a plaintext secret's value was printed")
	}

	clean := checkedNode(t, auditOn)
	r = escert(t, nil, "check", "--es-config", clean, "-o", "json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "{\n  \"findings\": [],\n  \"summary\": {\n    \"problems\": 0,\n    \"warnings\": 0\n  }\n}" {
		t.Errorf("clean: exit %d, stdout %s", r.code, r.stdout)
	}
}

func TestCheckKibanaConfigFromTheSameBundleIsCleanAndJoinsTheNodesFindings(t *testing.T) {
	config := checkedNode(t, auditOn)
	kibana := filepath.Join(filepath.Dir(config), "out", "clients", "kibana.yml")
	for _, args := range [][]string{
		{"check", "--kibana-config", kibana},
		{"check", "--es-config", config, "--kibana-config", kibana},
	} {
		if r := escert(t, nil, args...); r.code != 0 || !strings.HasPrefix(r.stdout, "clean: ") {
			t.Errorf("%v: exit %d, stdout %s, stderr %s", args, r.code, r.stdout, r.stderr)
		}
	}
	data, err := os.ReadFile(kibana)
	if err != nil {
		t.Fatal(err)
	}
	weak := strings.Replace(string(data), "verificationMode: full", "verificationMode: none", 1)
	if err := os.WriteFile(kibana, []byte(weak), 0o600); err != nil {
		t.Fatal(err)
	}
	r := escert(t, nil, "check", "--es-config", config, "--kibana-config", kibana, "-o", "json")
	var report check.Report
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil || r.code != 2 {
		t.Fatalf("exit %d, %v: %s", r.code, err, r.stdout)
	}
	if len(report.Findings) != 1 || report.Findings[0].ID != "verification-none" || report.Findings[0].File != "kibana.yml" {
		t.Errorf("findings: %+v", report.Findings)
	}
}

func TestCheckPasswordProtectedKeystore(t *testing.T) {
	dir := t.TempDir()
	right := writeFile(t, dir, "ks.pass", "correct horse battery staple\n")
	wrong := writeFile(t, dir, "wrong.pass", "not the keystore password\n")
	config := checkedNode(t, auditOn, "--keystore-pass-file", right)

	if r := escert(t, nil, "check", "--es-config", config, "--keystore-pass-file", right); r.code != 0 {
		t.Errorf("right password: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := escert(t, map[string]string{"ESCERT_KEYSTORE_PASSWORD": "correct horse battery staple"}, "check", "--es-config", config); r.code != 0 {
		t.Errorf("password from the environment: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	r := escert(t, nil, "check", "--es-config", config, "--keystore-pass-file", wrong)
	if r.code != ExitInput || r.stdout != "" || !strings.Contains(r.stderr, "wrong keystore password") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("wrong password: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = escert(t, nil, "check", "--es-config", config)
	if r.code != ExitInput || !strings.Contains(r.stderr, "--keystore-pass-file") {
		t.Errorf("no password: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCheckUnusableInputAndUsage(t *testing.T) {
	dir := t.TempDir()
	r := escert(t, nil, "check", "--es-config", filepath.Join(dir, "missing"))
	if r.code != ExitInput || !strings.HasPrefix(r.stderr, "escert: config directory ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("missing directory: exit %d, stderr %q", r.code, r.stderr)
	}
	writeFile(t, dir, "elasticsearch.yml", "xpack.security.enabled: [true\n")
	if r := escert(t, nil, "check", "--es-config", dir); r.code != ExitInput || !strings.Contains(r.stderr, "not valid YAML") {
		t.Errorf("unparsable elasticsearch.yml: exit %d, stderr %q", r.code, r.stderr)
	}
	// check answers like a Nagios plugin: a usage error is UNKNOWN (3), not 2, which
	// says problems were found.
	if r := escert(t, nil, "check"); r.code != 3 || !strings.Contains(r.stderr, "give --es-config DIR, --kibana-config FILE, --url URL, or several") {
		t.Errorf("no --es-config: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := escert(t, nil, "check", "--es-config", dir, "-o", "yaml"); r.code != 3 {
		t.Errorf("-o yaml: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := escert(t, nil, "check", "--es-config", dir, "--warn-days", "-1"); r.code != 3 {
		t.Errorf("--warn-days -1: exit %d, stderr %q", r.code, r.stderr)
	}
}

// escertBinary builds the escert command, for tests that must run it as another user.
func escertBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "escert")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/escert/escert/cmd/escert").CombinedOutput(); err != nil {
		t.Fatalf("build escert: %v\n%s", err, out)
	}
	return bin
}

// check's own advice is to run it as the user Elasticsearch runs as. After install,
// as root, the config directory holds escert's backups, lock and temporary files, which
// an older install (and any root umask) left to root alone: the check must not need
// them. Runs the built binary as the elasticsearch user.
func TestCheckAsElasticsearchUserNeedsNoAccessToEscertsBackups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to install as root and check as the elasticsearch user")
	}
	account, err := user.Lookup(realtest.ESUser)
	if err != nil {
		t.Fatalf("no %s user (make test creates it): %v", realtest.ESUser, err)
	}
	uid, _ := strconv.Atoi(account.Uid)
	gid, _ := strconv.Atoi(account.Gid)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // let the elasticsearch user reach the config directory
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := escertBinary(t, dir)
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	// The built binary checks with the wall clock.
	if r := escertAt(t, time.Now, nil, "bootstrap", "--instances", in, "--out", out, "-q"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	rootOnly := func(config string) {
		backups := filepath.Join(config, "escert-backups")
		if err := filepath.Walk(backups, func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			mode := os.FileMode(0o600)
			if info.IsDir() {
				mode = 0o700
			}
			if err := os.Chown(p, 0, 0); err != nil {
				return err
			}
			return os.Chmod(p, mode)
		}); err != nil {
			t.Fatal(err)
		}
		writeFile(t, config, ".elasticsearch.yml.escert-1234", "an interrupted write")
	}
	cases := []struct {
		name   string
		edit   func(config string)
		code   int
		stdout string
	}{
		{"root-only escert-backups, lock and temporary file", rootOnly, 0, "passes every check"},
		{"a root-only directory that is not escert's is a warning", func(config string) {
			rootOnly(config)
			if err := os.Mkdir(filepath.Join(config, "old-plugins"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, 1, "old-plugins cannot be listed by uid " + account.Uid},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config := filepath.Join(dir, fmt.Sprintf("config%d", i))
			if err := os.Mkdir(config, 0o750); err != nil {
				t.Fatal(err)
			}
			yml := writeFile(t, config, "elasticsearch.yml", "cluster.name: prod\n")
			for _, p := range []string{config, yml} {
				if err := os.Chown(p, 0, gid); err != nil {
					t.Fatal(err)
				}
			}
			os.Chmod(yml, 0o660)
			// Installing over an existing elasticsearch.yml backs it up.
			if r := escertAt(t, time.Now, nil, "install", "--bundle", filepath.Join(out, "nodes", "node1"), "--es-config", config); r.code != ExitOK {
				t.Fatal(r.stderr)
			}
			if _, err := os.Stat(filepath.Join(config, "escert-backups")); err != nil {
				t.Fatalf("install made no backups to hide: %v", err)
			}
			tc.edit(config)
			cmd := exec.Command(bin, "check", "--es-config", config)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("check as %s: exit %d, want %d and %q\nstdout: %s\nstderr: %s", realtest.ESUser, code, tc.code, tc.stdout, stdout.String(), stderr.String())
			}
		})
	}
}
