package cli

import (
	"bytes"
	"crypto/fips140"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/install"
)

// tty is a fake terminal: answers are what the user types at the no-echo prompts
// (passwords and values), in order; asked records the prompts.
type tty struct {
	answers []string
	asked   []string
}

func (t *tty) prompt(msg string) ([]byte, error) {
	t.asked = append(t.asked, msg)
	if len(t.answers) == 0 {
		return nil, errors.New("no more answers")
	}
	a := t.answers[0]
	t.answers = t.answers[1:]
	return []byte(a), nil
}

// ksCall is how escert keystore is run: the environment, standard input, and a
// terminal (nil: none, as in cron jobs and containers).
type ksCall struct {
	env   map[string]string
	stdin string
	tty   *tty
}

// ks runs "escert keystore args..." in process.
func ks(t *testing.T, c ksCall, args ...string) result {
	t.Helper()
	e := &env{
		rand:   rand.Reader,
		now:    func() time.Time { return fixedNow },
		getenv: func(k string) string { return c.env[k] },
		stdin:  strings.NewReader(c.stdin),
	}
	if c.tty != nil {
		e.prompt = c.tty.prompt
	}
	var stdout, stderr bytes.Buffer
	code := run(e, append([]string{"keystore"}, args...), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// mustKS is ks that fails the test unless the command succeeds.
func mustKS(t *testing.T, c ksCall, args ...string) result {
	t.Helper()
	r := ks(t, c, args...)
	if r.code != 0 {
		t.Fatalf("escert keystore %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// skipUnderFIPS skips tests that use keystores without a password, which
// GODEBUG=fips140=only refuses (eskeystore.ErrPasswordTooShortFIPS).
func skipUnderFIPS(t *testing.T) {
	t.Helper()
	if fips140.Enforced() {
		t.Skip("FIPS 140-only mode refuses keystores without a password")
	}
}

func decodeKS(t *testing.T, path, password string) *eskeystore.Keystore {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := eskeystore.Decode(data, []byte(password))
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return k
}

func settingOf(t *testing.T, k *eskeystore.Keystore, name string) string {
	t.Helper()
	v, ok := k.Get(name)
	if !ok {
		t.Fatalf("setting %s missing; have %v", name, k.Names())
	}
	return string(v)
}

// newKeystore creates a keystore in a temp dir with the given settings (format 4,
// which is quick to derive keys for) and returns its path.
func newKeystore(t *testing.T, password string, settings ...string) string {
	t.Helper()
	k, err := eskeystore.New(4, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(settings); i += 2 {
		if err := k.Set(settings[i], []byte(settings[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	data, err := k.Encode([]byte(password), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "elasticsearch.keystore")
	if err := os.WriteFile(path, data, 0o660); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKeystoreCreateAddListShowRemoveRoundTrip(t *testing.T) {
	skipUnderFIPS(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "elasticsearch.keystore")
	none := ksCall{}

	r := mustKS(t, none, "create", "--path", path)
	if r.stdout != "Created elasticsearch keystore in "+path+"\n" {
		t.Errorf("create stdout = %q", r.stdout)
	}
	if k := decodeKS(t, path, ""); k.Version != eskeystore.DefaultVersion || !slices.Equal(k.Names(), []string{"keystore.seed"}) {
		t.Errorf("new keystore: version %d, settings %v", k.Version, k.Names())
	}

	mustKS(t, ksCall{stdin: "the-bootstrap-secret\nAKIA-secret-id\r\n"}, "add", "-x", "--path", path,
		"bootstrap.password", "s3.client.default.access_key")
	file := writeFile(t, dir, "system_key", "\x00\x01binary\xff")
	mustKS(t, none, "add-file", "--path", path, "xpack.watcher.encryption_key", file)

	r = mustKS(t, none, "list", "--path", path)
	want := "bootstrap.password\nkeystore.seed\ns3.client.default.access_key\nxpack.watcher.encryption_key\n"
	if r.stdout != want {
		t.Errorf("list = %q, want sorted %q", r.stdout, want)
	}

	// On a pipe, show prints the value as is (no line break), like
	// ShowKeyStoreCommand when Terminal.getOutputStream is not null.
	if r = mustKS(t, none, "show", "--path", path, "bootstrap.password"); r.stdout != "the-bootstrap-secret" {
		t.Errorf("show bootstrap.password = %q", r.stdout)
	}
	if r = mustKS(t, none, "show", "--path", path, "s3.client.default.access_key"); r.stdout != "AKIA-secret-id" {
		t.Errorf("show after CRLF input = %q", r.stdout)
	}
	out := filepath.Join(dir, "system_key.out")
	mustKS(t, none, "show", "--path", path, "-o", out, "xpack.watcher.encryption_key")
	if got, _ := os.ReadFile(out); string(got) != "\x00\x01binary\xff" {
		t.Errorf("show -o wrote %q", got)
	}
	if info, err := os.Stat(out); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("show -o file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}

	mustKS(t, none, "remove", "--path", path, "bootstrap.password", "xpack.watcher.encryption_key")
	if r = mustKS(t, none, "list", "--path", path); r.stdout != "keystore.seed\ns3.client.default.access_key\n" {
		t.Errorf("list after remove = %q", r.stdout)
	}
}

func TestKeystoreExitCodesAndMessagesMatchElasticsearchKeystore(t *testing.T) {
	skipUnderFIPS(t)
	const missing = "MISSING" // a path in the temp dir that does not exist
	cases := []struct {
		name     string
		password string // of the existing keystore
		call     ksCall
		args     []string
		code     int
		stderr   string
	}{
		// BaseKeyStoreCommand: DATA_ERROR when a keystore that must exist does not.
		{"list without keystore", "", ksCall{}, []string{"list", "--path", missing}, 65,
			"ERROR: Elasticsearch keystore not found at [MISSING]. Use 'create' command to create one.\n"},
		{"show without keystore", "", ksCall{}, []string{"show", "--path", missing, "a"}, 65, "keystore not found at [MISSING]"},
		{"remove without keystore", "", ksCall{}, []string{"remove", "--path", missing, "a"}, 65, "keystore not found at [MISSING]"},
		{"passwd without keystore", "", ksCall{}, []string{"passwd", "--path", missing, "--no-password"}, 65, "keystore not found at [MISSING]"},
		{"upgrade without keystore", "", ksCall{}, []string{"upgrade", "--path", missing}, 65, "keystore not found at [MISSING]"},
		// HasPasswordKeyStoreCommand: exit 1 for no keystore and for no password.
		{"has-passwd without keystore", "", ksCall{}, []string{"has-passwd", "--path", missing}, 1, "ERROR: Elasticsearch keystore not found"},
		{"has-passwd without password", "", ksCall{}, []string{"has-passwd"}, 1, "ERROR: Keystore is not password-protected\n"},
		// KeyStoreWrapper.decrypt: SecurityException, DATA_ERROR.
		{"wrong password from the environment", "correct horse battery", ksCall{env: map[string]string{"ESCERT_KEYSTORE_PASSWORD": "wrong horse battery"}},
			[]string{"list"}, 65, "ERROR: Provided keystore password was incorrect\n"},
		{"wrong password on the terminal", "correct horse battery", ksCall{tty: &tty{answers: []string{"wrong horse battery"}}},
			[]string{"list"}, 65, "ERROR: Provided keystore password was incorrect\n"},
		{"password needed and no terminal", "correct horse battery", ksCall{}, []string{"list"}, 65, "--keystore-pass-file or ESCERT_KEYSTORE_PASSWORD"},
		// AddStringKeyStoreCommand / AddFileKeyStoreCommand.
		{"add without names", "", ksCall{}, []string{"add", "-x"}, 64, "ERROR: the setting names can not be empty\n"},
		{"add invalid name", "", ksCall{stdin: "v\n"}, []string{"add", "-x", "bad@name"}, 65,
			`ERROR: Setting name [bad@name] does not match the allowed setting name pattern [[A-Za-z0-9_\-.]+]`},
		{"add existing setting without -f and no terminal", "", ksCall{stdin: "new\n"}, []string{"add", "-x", "existing.setting"}, 64,
			"Setting [existing.setting] already exists in the keystore: use -f"},
		{"add without keystore, -f or terminal", "", ksCall{stdin: "v\n"}, []string{"add", "-x", "--path", missing, "a"}, 64,
			"use -f to create it"},
		{"add with stdin ending early", "", ksCall{stdin: "one\n"}, []string{"add", "-x", "a", "b"}, 65,
			"standard input ended before the value for setting [b]"},
		{"add-file without arguments", "", ksCall{}, []string{"add-file"}, 64, "ERROR: Missing setting name\n"},
		{"add-file odd arguments", "", ksCall{}, []string{"add-file", "a", "f", "b"}, 64, "ERROR: settings and filenames must come in pairs\n"},
		{"add-file missing file", "", ksCall{}, []string{"add-file", "a", "/does/not/exist"}, 74, "ERROR: File [/does/not/exist] does not exist\n"},
		{"add-file invalid name", "", ksCall{}, []string{"add-file", "bad name", "/does/not/exist"}, 65, "Setting name [bad name] does not match"},
		// RemoveSettingKeyStoreCommand / ShowKeyStoreCommand.
		{"remove without names", "", ksCall{}, []string{"remove"}, 64, "ERROR: Must supply at least one setting to remove\n"},
		{"remove missing setting", "", ksCall{}, []string{"remove", "existing.setting", "nope"}, 78,
			"ERROR: Setting [nope] does not exist in the keystore.\n"},
		{"show missing setting", "", ksCall{}, []string{"show", "nope"}, 78, "ERROR: Setting [nope] does not exist in the keystore.\n"},
		{"show two settings", "", ksCall{}, []string{"show", "a", "b"}, 64, "ERROR: Must provide a single setting name to show\n"},
		{"show no setting", "", ksCall{}, []string{"show"}, 64, "ERROR: Must provide a single setting name to show\n"},
		// CreateKeyStoreCommand asks before replacing; escert needs --force without a terminal.
		{"create over existing without --force", "", ksCall{}, []string{"create"}, 64,
			"An elasticsearch keystore already exists at ["},
		// ChangeKeyStorePasswordCommand.
		{"passwd passwords differ", "", ksCall{tty: &tty{answers: []string{"new password one", "new password two"}}}, []string{"passwd"}, 65,
			"ERROR: Passwords are not equal, exiting.\n"},
		{"passwd without a new password or terminal", "", ksCall{}, []string{"passwd"}, 64, "--new-pass-file or ESCERT_KEYSTORE_NEW_PASSWORD"},
		// Command.main and MultiCommand: USAGE.
		{"unknown flag", "", ksCall{}, []string{"list", "--bogus"}, 64, "ERROR: unknown flag: --bogus\n"},
		{"unknown subcommand", "", ksCall{}, []string{"bogus"}, 64, "ERROR: Unknown command [bogus]\n"},
		{"no subcommand", "", ksCall{}, nil, 64, "ERROR: Missing command\n"},
		{"unknown Elasticsearch version", "", ksCall{}, []string{"upgrade", "--es-version", "5.6"}, 64, "--es-version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := newKeystore(t, tc.password, "existing.setting", "old-value")
			before, _ := os.ReadFile(path)
			missingPath := filepath.Join(filepath.Dir(path), "missing", "elasticsearch.keystore")
			args := append([]string{}, tc.args...)
			hasPath := false
			for i, a := range args {
				if a == missing {
					args[i] = missingPath
				}
				hasPath = hasPath || a == "--path"
			}
			if !hasPath && len(args) > 0 {
				args = append(args, "--path", path)
			}
			r := ks(t, tc.call, args...)
			stderr := strings.ReplaceAll(r.stderr, missingPath, missing)
			if r.code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, stderr, tc.code, tc.stderr)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("a failed command changed the keystore")
			}
			if _, err := os.Stat(missingPath); err == nil {
				t.Error("a failed command created a keystore")
			}
		})
	}
}

func TestKeystoreCorruptedFileIsDataError(t *testing.T) {
	skipUnderFIPS(t)
	path := newKeystore(t, "")
	data, _ := os.ReadFile(path)
	data[len(data)-30] ^= 1
	os.WriteFile(path, data, 0o660)
	r := ks(t, ksCall{}, "list", "--path", path)
	if r.code != 65 || !strings.Contains(r.stderr, "ERROR: Keystore has been corrupted or tampered with") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestKeystoreValuesAndPasswordsNeverPrinted(t *testing.T) {
	skipUnderFIPS(t)
	const (
		value1   = "first-secret-value-4711"
		value2   = "second-secret-value-0815"
		password = "keystore-password-1234"
		wrong    = "not-the-password-9876"
	)
	dir := t.TempDir()
	path := filepath.Join(dir, "elasticsearch.keystore")
	passFile := writeFile(t, dir, "ks.pass", password+"\n")
	var all string
	for _, step := range []struct {
		call ksCall
		args []string
	}{
		{ksCall{}, []string{"create", "-p", "--keystore-pass-file", passFile}},
		{ksCall{stdin: value1 + "\n" + value2 + "\n"}, []string{"add", "-x", "--keystore-pass-file", passFile, "a", "b"}},
		// Refused: the values on stdin are not echoed.
		{ksCall{stdin: value1 + "\n"}, []string{"add", "-x", "--keystore-pass-file", passFile, "a"}},
		{ksCall{stdin: value1 + "\n"}, []string{"add", "-x", "--keystore-pass-file", passFile, "bad@name"}},
		{ksCall{env: map[string]string{"ESCERT_KEYSTORE_PASSWORD": wrong}, stdin: value2 + "\n"}, []string{"add", "-x", "-f", "a"}},
		{ksCall{tty: &tty{answers: []string{password, value1, value2}}}, []string{"passwd"}},
		{ksCall{}, []string{"list", "--keystore-pass-file", passFile}},
		{ksCall{}, []string{"has-passwd"}},
	} {
		r := ks(t, step.call, append(step.args, "--path", path)...)
		all += r.stdout + r.stderr
	}
	for _, secret := range []string{value1, value2, password, wrong} {
		if strings.Contains(all, secret) {
			t.Errorf("%q was printed:\n%s", secret, all)
		}
	}
	if k := decodeKS(t, path, password); settingOf(t, k, "a") != value1 || settingOf(t, k, "b") != value2 {
		t.Error("values not stored")
	}
}

func TestKeystoreAsksOnTheTerminal(t *testing.T) {
	skipUnderFIPS(t)
	t.Run("add existing setting, answer no", func(t *testing.T) {
		path := newKeystore(t, "", "a", "old")
		before, _ := os.ReadFile(path)
		term := &tty{answers: []string{"new"}}
		r := ks(t, ksCall{tty: term, stdin: "n\n"}, "add", "--path", path, "a")
		if r.code != 0 || r.stdout != "Exiting without modifying keystore.\n" || !strings.Contains(r.stderr, "Setting a already exists. Overwrite? [y/N]") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) || len(term.asked) != 0 {
			t.Errorf("keystore changed or value asked for: %v", term.asked)
		}
	})
	t.Run("add existing setting, answer yes", func(t *testing.T) {
		path := newKeystore(t, "", "a", "old")
		term := &tty{answers: []string{"new"}}
		mustKS(t, ksCall{tty: term, stdin: "y\n"}, "add", "--path", path, "a")
		if got := settingOf(t, decodeKS(t, path, ""), "a"); got != "new" {
			t.Errorf("a = %q", got)
		}
		if !slices.Equal(term.asked, []string{"Enter value for a: "}) {
			t.Errorf("prompts = %q", term.asked)
		}
	})
	t.Run("add -f replaces without asking", func(t *testing.T) {
		path := newKeystore(t, "", "a", "old")
		mustKS(t, ksCall{stdin: "new\n"}, "add", "-x", "-f", "--path", path, "a")
		if got := settingOf(t, decodeKS(t, path, ""), "a"); got != "new" {
			t.Errorf("a = %q", got)
		}
	})
	t.Run("add without a keystore, answer yes", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "elasticsearch.keystore")
		r := mustKS(t, ksCall{tty: &tty{answers: []string{"v"}}, stdin: "y\n"}, "add", "--path", path, "a")
		if !strings.Contains(r.stderr, "The elasticsearch keystore does not exist. Do you want to create it? [y/N]") {
			t.Errorf("stderr %q", r.stderr)
		}
		if got := settingOf(t, decodeKS(t, path, ""), "a"); got != "v" {
			t.Errorf("a = %q", got)
		}
	})
	t.Run("add without a keystore, answer no", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "elasticsearch.keystore")
		r := ks(t, ksCall{tty: &tty{}, stdin: "\n"}, "add", "--path", path, "a")
		if r.code != 0 || r.stdout != "Exiting without creating keystore.\n" {
			t.Errorf("exit %d, stdout %q", r.code, r.stdout)
		}
		if _, err := os.Stat(path); err == nil {
			t.Error("keystore created")
		}
	})
	t.Run("add-file -f creates a missing keystore", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "elasticsearch.keystore")
		f := writeFile(t, dir, "v", "file-value")
		mustKS(t, ksCall{}, "add-file", "-f", "--path", path, "a", f)
		if got := settingOf(t, decodeKS(t, path, ""), "a"); got != "file-value" {
			t.Errorf("a = %q", got)
		}
	})
	t.Run("create over existing, answer no", func(t *testing.T) {
		path := newKeystore(t, "", "a", "old")
		r := ks(t, ksCall{tty: &tty{}, stdin: "n\n"}, "create", "--path", path)
		if r.code != 0 || r.stdout != "Exiting without creating keystore.\n" || !strings.Contains(r.stderr, "An elasticsearch keystore already exists. Overwrite? [y/N]") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		settingOf(t, decodeKS(t, path, ""), "a")
	})
	t.Run("create over existing, answer yes", func(t *testing.T) {
		path := newKeystore(t, "", "a", "old")
		mustKS(t, ksCall{tty: &tty{}, stdin: "y\n"}, "create", "--path", path)
		if names := decodeKS(t, path, "").Names(); !slices.Equal(names, []string{"keystore.seed"}) {
			t.Errorf("settings = %v", names)
		}
	})
	t.Run("create --force replaces without asking", func(t *testing.T) {
		path := newKeystore(t, "", "a", "old")
		mustKS(t, ksCall{}, "create", "--force", "--path", path)
		if names := decodeKS(t, path, "").Names(); !slices.Equal(names, []string{"keystore.seed"}) {
			t.Errorf("settings = %v", names)
		}
	})
	t.Run("values from a piped stdin without -x", func(t *testing.T) {
		path := newKeystore(t, "")
		mustKS(t, ksCall{stdin: "v1\nv2"}, "add", "--path", path, "a", "b")
		k := decodeKS(t, path, "")
		if settingOf(t, k, "a") != "v1" || settingOf(t, k, "b") != "v2" {
			t.Error("values not read from stdin")
		}
	})
}

func TestKeystorePasswordProtected(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "elasticsearch.keystore")
	const password = "correct horse battery staple"
	passFile := writeFile(t, dir, "ks.pass", password+"\n")
	withEnv := ksCall{env: map[string]string{"ESCERT_KEYSTORE_PASSWORD": password}}

	term := &tty{answers: []string{password, password}}
	mustKS(t, ksCall{tty: term}, "create", "-p", "--path", path, "--es-version", "7.17")
	if len(term.asked) != 2 || !strings.Contains(term.asked[1], "Enter same password again") {
		t.Errorf("create -p prompts = %q", term.asked)
	}
	if r := mustKS(t, ksCall{}, "has-passwd", "--path", path); r.stdout != "Keystore is password-protected\n" {
		t.Errorf("has-passwd stdout %q", r.stdout)
	}
	mustKS(t, ksCall{stdin: "v1\n"}, "add", "-x", "--path", path, "--keystore-pass-file", passFile, "a")
	mustKS(t, ksCall{env: withEnv.env, stdin: "v2\n"}, "add", "-x", "--path", path, "b")
	if r := mustKS(t, withEnv, "list", "--path", path); r.stdout != "a\nb\nkeystore.seed\n" {
		t.Errorf("list = %q", r.stdout)
	}
	if r := mustKS(t, ksCall{tty: &tty{answers: []string{password}}}, "show", "--path", path, "b"); r.stdout != "v2" {
		t.Errorf("show = %q", r.stdout)
	}

	const newPassword = "another long keystore password"
	r := mustKS(t, ksCall{env: map[string]string{"ESCERT_KEYSTORE_PASSWORD": password, "ESCERT_KEYSTORE_NEW_PASSWORD": newPassword}}, "passwd", "--path", path)
	if r.stdout != "Elasticsearch keystore password changed successfully.\n" {
		t.Errorf("passwd stdout %q", r.stdout)
	}
	if r := ks(t, withEnv, "list", "--path", path); r.code != 65 {
		t.Errorf("old password: exit %d", r.code)
	}
	k := decodeKS(t, path, newPassword)
	if k.Version != 4 || settingOf(t, k, "a") != "v1" {
		t.Errorf("after passwd: version %d, settings %v", k.Version, k.Names())
	}

	if !fips140.Enforced() {
		mustKS(t, ksCall{env: map[string]string{"ESCERT_KEYSTORE_PASSWORD": newPassword}}, "passwd", "--no-password", "--path", path)
		if r := ks(t, ksCall{}, "has-passwd", "--path", path); r.code != 1 {
			t.Errorf("has-passwd after --no-password: exit %d", r.code)
		}
		settingOf(t, decodeKS(t, path, ""), "b")
	}
}

func TestKeystoreCreatePasswordNeedsASource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "elasticsearch.keystore")
	r := ks(t, ksCall{}, "create", "-p", "--path", path)
	if r.code != 64 || !strings.Contains(r.stderr, "--keystore-pass-file or ESCERT_KEYSTORE_PASSWORD") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("keystore created without the password")
	}
}

func TestKeystoreRealElasticsearchKeystoresListAddAndKeepVersion(t *testing.T) {
	skipUnderFIPS(t)
	for _, tc := range []struct {
		file    string
		version int
		names   string
	}{
		{"v3-seed-only.keystore", 3, "keystore.seed\n"},
		{"v4-ldap-bind-password.keystore", 4, "keystore.seed\nxpack.security.authc.realms.ldap.ldap1.secure_bind_password\n"},
		{"v5-s3-credentials.keystore", 5, "keystore.seed\ns3.client.default.access_key\ns3.client.default.secret_key\n"},
		{"v6-seed-only.keystore", 6, "keystore.seed\n"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "eskeystore", "testdata", "real", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "elasticsearch.keystore")
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
			if r := mustKS(t, ksCall{}, "list", "--path", path); r.stdout != tc.names {
				t.Errorf("list = %q, want %q", r.stdout, tc.names)
			}
			seed := settingOf(t, decodeKS(t, path, ""), "keystore.seed")
			mustKS(t, ksCall{stdin: "changeme\n"}, "add", "-x", "--path", path, "bootstrap.password")
			k := decodeKS(t, path, "")
			if k.Version != tc.version || settingOf(t, k, "bootstrap.password") != "changeme" || settingOf(t, k, "keystore.seed") != seed {
				t.Errorf("after add: version %d (want %d), settings %v", k.Version, tc.version, k.Names())
			}
			if info, _ := os.Stat(path); info.Mode().Perm() != 0o640 {
				t.Errorf("mode = %v, want 0640 kept", info.Mode().Perm())
			}
		})
	}
	t.Run("show a value Elasticsearch stored", func(t *testing.T) {
		data, _ := os.ReadFile(filepath.Join("..", "eskeystore", "testdata", "real", "v4-ldap-bind-password.keystore"))
		path := filepath.Join(t.TempDir(), "elasticsearch.keystore")
		os.WriteFile(path, data, 0o660)
		if r := mustKS(t, ksCall{}, "show", "--path", path, "xpack.security.authc.realms.ldap.ldap1.secure_bind_password"); r.stdout != "pass" {
			t.Errorf("show = %q", r.stdout)
		}
	})
}

func TestKeystoreUpgradeRewritesTheFormatOnlyWhenAsked(t *testing.T) {
	skipUnderFIPS(t)
	path := newKeystore(t, "", "a", "v") // format 4
	mustKS(t, ksCall{stdin: "w\n"}, "add", "-x", "--path", path, "b")
	if v := decodeKS(t, path, "").Version; v != 4 {
		t.Fatalf("add changed the format to %d", v)
	}
	for _, step := range []struct {
		args    []string
		version int
		stderr  string
	}{
		{[]string{"--es-version", "8.13"}, 5, "from format 4 to 5"},
		{nil, 6, "from format 5 to 6"},
		{nil, 6, "already in format 6"},
		{[]string{"--es-version", "9.5"}, 7, "from format 6 to 7"},
		// A 9.x node's keystore is never lowered to the default format.
		{nil, 7, "already in format 7"},
	} {
		r := mustKS(t, ksCall{}, append([]string{"upgrade", "--path", path}, step.args...)...)
		k := decodeKS(t, path, "")
		if k.Version != step.version || !strings.Contains(r.stderr, step.stderr) || settingOf(t, k, "b") != "w" {
			t.Errorf("upgrade %v: version %d, stderr %q", step.args, k.Version, r.stderr)
		}
	}
}

func TestKeystoreUpgradeRefusesToDowngrade(t *testing.T) {
	skipUnderFIPS(t)
	path := newKeystore(t, "", "a", "v")
	mustKS(t, ksCall{}, "upgrade", "--path", path, "--es-version", "9.0")
	before, _ := os.ReadFile(path)
	r := ks(t, ksCall{}, "upgrade", "--path", path, "--es-version", "8.17")
	if r.code != ksDataError || !strings.Contains(r.stderr, "escert does not downgrade keystores") {
		t.Fatalf("exit %d, stderr %q; want %d refusing to downgrade", r.code, r.stderr, ksDataError)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the refused downgrade changed the keystore")
	}
}

func TestKeystoreFileModeAndOwner(t *testing.T) {
	skipUnderFIPS(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "elasticsearch.keystore")
	mustKS(t, ksCall{}, "create", "--path", path)
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o660 {
		t.Errorf("new keystore mode = %v, want 0660", info.Mode().Perm())
	}
	os.Chmod(path, 0o600)
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 4711, 4712
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	mustKS(t, ksCall{stdin: "v\n"}, "add", "-x", "--path", path, "a")
	mustKS(t, ksCall{}, "create", "--force", "--path", path)
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600 kept", info.Mode().Perm())
	}
	if fileUID, fileGID := ownerIDs(info); fileUID != uid || fileGID != gid {
		t.Errorf("owner = %d:%d, want %d:%d kept", fileUID, fileGID, uid, gid)
	}
}

func TestKeystoreUnwritableDirectoryIsConfigError(t *testing.T) {
	skipUnderFIPS(t)
	if os.Geteuid() == 0 {
		t.Skip("root may write anywhere")
	}
	path := newKeystore(t, "")
	dir := filepath.Dir(path)
	os.Chmod(dir, 0o500)
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	r := ks(t, ksCall{stdin: "v\n"}, "add", "-x", "--path", path, "a")
	if r.code != 78 || !strings.Contains(r.stderr, "ERROR: unable to write keystore at [") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestKeystoreDefaultPath(t *testing.T) {
	skipUnderFIPS(t)
	dir := t.TempDir()
	conf := ksCall{env: map[string]string{"ES_PATH_CONF": dir}}
	mustKS(t, conf, "create")
	if _, err := os.Stat(filepath.Join(dir, "elasticsearch.keystore")); err != nil {
		t.Errorf("create with ES_PATH_CONF: %v", err)
	}
	mustKS(t, conf, "list")

	const etc = "/etc/elasticsearch/elasticsearch.keystore"
	if _, err := os.Stat(etc); err == nil {
		t.Skip(etc + " exists on this machine")
	}
	if r := ks(t, ksCall{}, "list"); r.code != 65 || !strings.Contains(r.stderr, "not found at ["+etc+"]") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestKeystoreSilentHidesMessagesButNotErrors(t *testing.T) {
	skipUnderFIPS(t)
	path := newKeystore(t, "")
	if r := ks(t, ksCall{}, "has-passwd", "-s", "--path", path); r.code != 1 || r.stdout+r.stderr != "" {
		t.Errorf("has-passwd -s: exit %d, output %q", r.code, r.stdout+r.stderr)
	}
	if r := ks(t, ksCall{}, "create", "-s", "--force", "--path", path); r.code != 0 || r.stdout != "" {
		t.Errorf("create -s: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := ks(t, ksCall{}, "remove", "-s", "--path", path, "nope"); r.code != 78 || r.stderr == "" {
		t.Errorf("remove -s: exit %d, stderr %q", r.code, r.stderr)
	}
}

func ownerIDs(info os.FileInfo) (uid, gid int) {
	st := info.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// TestKeystoreParallelWritersAllLand: ten `keystore add -x -f` at once on one
// keystore queue on its lock and each re-reads the keystore under it, so every
// setting lands.
func TestKeystoreParallelWritersAllLand(t *testing.T) {
	skipUnderFIPS(t)
	path := newKeystore(t, "")
	const writers = 10
	results := make(chan result, writers)
	for i := range writers {
		go func() {
			results <- ks(t, ksCall{stdin: fmt.Sprintf("value-%d\n", i)}, "add", "-x", "-f", "--path", path, fmt.Sprintf("setting.%d", i))
		}()
	}
	for range writers {
		if r := <-results; r.code != 0 {
			t.Errorf("a parallel add failed: exit %d: %s", r.code, r.stderr)
		}
	}
	k := decodeKS(t, path, "")
	for i := range writers {
		if v, ok := k.Get(fmt.Sprintf("setting.%d", i)); !ok || string(v) != fmt.Sprintf("value-%d", i) {
			t.Errorf("setting.%d = %q, %v: lost to a concurrent writer; keystore holds %v", i, v, ok, k.Names())
		}
	}
}

// TestKeystoreAddDuringAnInstallWaitsAndIsKept: an add while install holds the
// config directory's lock (having read the keystore it is about to merge into) waits
// for the install to finish and then adds to what install wrote, so neither change
// is lost.
func TestKeystoreAddDuringAnInstallWaitsAndIsKept(t *testing.T) {
	skipUnderFIPS(t)
	bundleDir, config := installFixture(t, "path.data: /var/lib/elasticsearch\n")
	path := filepath.Join(config, "elasticsearch.keystore")
	mustKS(t, ksCall{}, "create", "--path", path)

	// What escert install does under its lock: plan from the keystore on disk, then
	// apply.
	unlock, err := atomicfs.Lock(config)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := install.PlanNode(install.NodeOptions{BundleDir: bundleDir, ConfigDir: config, Now: fixedNow, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan result)
	go func() {
		done <- ks(t, ksCall{stdin: "AKIA-id\n"}, "add", "-x", "-f", "--path", path, "s3.client.default.access_key")
	}()
	select {
	case r := <-done:
		t.Fatalf("keystore add finished while install held the lock (exit %d, %s): its change will be lost", r.code, r.stderr)
	case <-time.After(time.Second):
	}
	if _, err := plan.Apply(nil); err != nil {
		t.Fatal(err)
	}
	unlock()
	r := <-done
	if r.code != 0 || r.stderr != "Waiting for another escert run to finish with ["+config+"]\n" {
		t.Fatalf("keystore add after the install: exit %d, stderr %q; want 0 and the note that it waited", r.code, r.stderr)
	}
	k := decodeKS(t, path, "")
	for _, name := range []string{"s3.client.default.access_key", "xpack.security.http.ssl.keystore.secure_password"} {
		if _, ok := k.Get(name); !ok {
			t.Errorf("%s lost: keystore holds %v", name, k.Names())
		}
	}
}

// TestKeystoreGivesUpOnALockHeldTooLong: a writer that waited ksLockTimeout for
// another run gives up with elasticsearch-keystore's TEMP_FAILURE (75), naming the
// lock, and changes nothing.
func TestKeystoreGivesUpOnALockHeldTooLong(t *testing.T) {
	skipUnderFIPS(t)
	old := ksLockTimeout
	ksLockTimeout = 200 * time.Millisecond
	t.Cleanup(func() { ksLockTimeout = old })
	path := newKeystore(t, "", "a", "1")
	dir := filepath.Dir(path)
	unlock, err := atomicfs.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	before, _ := os.ReadFile(path)
	r := ks(t, ksCall{stdin: "2\n"}, "add", "-x", "-f", "-s", "--path", path, "a")
	want := "ERROR: " + dir + ": another escert run is changing this config directory (lock " + filepath.Join(dir, atomicfs.LockFile) + "), still after 200ms: wait for it to finish, then re-run\n"
	if r.code != 75 || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want 75 and %q", r.code, r.stderr, want)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("the keystore changed although the lock was never taken")
	}
}

// TestKeystoreRemovesTheLeftoverOfAKilledWrite: the temporary keystore a killed
// writer left beside the keystore (its secrets inside) is removed by the next write,
// which says so in one line on stderr.
func TestKeystoreRemovesTheLeftoverOfAKilledWrite(t *testing.T) {
	skipUnderFIPS(t)
	path := newKeystore(t, "")
	leftover := filepath.Join(filepath.Dir(path), ".elasticsearch.keystore.escert-2718281828")
	if err := os.WriteFile(leftover, []byte("a keystore with secrets"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustKS(t, ksCall{stdin: "v\n"}, "add", "-x", "--path", path, "a")
	if want := "escert: removed the leftover of an interrupted run: " + leftover + "\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	if _, err := os.Lstat(leftover); !os.IsNotExist(err) {
		t.Errorf("the leftover is still there: %v", err)
	}
}

// TestKeystoreWritesThroughASymlinkedKeystore: a keystore that is a link to a file
// elsewhere (as configuration management lays it out) is updated where it points,
// and stays a link.
func TestKeystoreWritesThroughASymlinkedKeystore(t *testing.T) {
	skipUnderFIPS(t)
	real := newKeystore(t, "")
	link := filepath.Join(t.TempDir(), "elasticsearch.keystore")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	mustKS(t, ksCall{stdin: "v\n"}, "add", "-x", "--path", link, "a")
	if got, err := os.Readlink(link); err != nil || got != real {
		t.Fatalf("the keystore link is now %q (%v), want a link to %s", got, err, real)
	}
	if v := settingOf(t, decodeKS(t, real, ""), "a"); v != "v" {
		t.Errorf("a = %q in the link's target", v)
	}
}

// TestKeystoreErrorsNameTheGivenPath: a write that fails names the path the user
// gave, never escert's temporary file beside it.
func TestKeystoreErrorsNameTheGivenPath(t *testing.T) {
	skipUnderFIPS(t)
	path := newKeystore(t, "", "a", "1")
	missing := filepath.Join(t.TempDir(), "newdir")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"show -o into a missing directory", []string{"show", "--path", path, "-o", filepath.Join(missing, "a.txt"), "a"},
			"ERROR: write " + filepath.Join(missing, "a.txt") + ": the directory " + missing + " does not exist: create it first\n"},
		{"create in a missing directory", []string{"create", "--path", filepath.Join(missing, "ks")},
			"ERROR: write " + filepath.Join(missing, "ks") + ": the directory " + missing + " does not exist: create it first\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := ks(t, ksCall{}, tt.args...); r.code != 74 || r.stderr != tt.want {
				t.Errorf("exit %d, stderr %q; want 74 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

// TestKeystoreRefusesAnEndlessDevice: /dev/zero as the keystore or as a setting file
// ends in one line, a data error (65), instead of reading forever; a write leaves no
// lock file beside it.
func TestKeystoreRefusesAnEndlessDevice(t *testing.T) {
	skipUnderFIPS(t)
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	path := newKeystore(t, "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"list", []string{"list", "--path", "/dev/zero"},
			"ERROR: read keystore [/dev/zero]: larger than an elasticsearch.keystore can be (64 MiB): check the path names the right file\n"},
		{"has-passwd", []string{"has-passwd", "--path", "/dev/zero"},
			"ERROR: read keystore [/dev/zero]: larger than an elasticsearch.keystore can be (64 MiB): check the path names the right file\n"},
		{"add", []string{"add", "-x", "-f", "--path", "/dev/zero", "a"},
			"ERROR: [/dev/zero] is not a regular file: --path must name an elasticsearch.keystore\n"},
		{"add-file", []string{"add-file", "-f", "--path", path, "a", "/dev/zero"},
			"ERROR: read [/dev/zero]: larger than a keystore setting file can be (16 MiB): check the path names the right file\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := ks(t, ksCall{stdin: "v\n"}, tt.args...); r.code != 65 || r.stderr != tt.want {
				t.Errorf("exit %d, stderr %q; want 65 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
	if _, err := os.Lstat("/dev/" + atomicfs.LockFile); err == nil {
		t.Error("a lock file was left in /dev")
	}
}
