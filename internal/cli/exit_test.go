package cli

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/fault"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's exit-code tables from the commands")

// runnableCommands are the command paths (without "escert") of every command that runs
// something, in the tree's order.
func runnableCommands() [][]string {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Runnable() && len(path) > 0 && c.Name() != "help" {
			paths = append(paths, path)
		}
		for _, sub := range c.Commands() {
			if sub.Name() != "help" && sub.Name() != "completion" {
				walk(sub, append(slices.Clone(path), sub.Name()))
			}
		}
	}
	walk(newRoot(&env{}), nil)
	return paths
}

var exitLineRE = regexp.MustCompile(`^  (\d+) +(.*)$`)

// documentedCodes parses the EXIT CODES section of a command's --help: code → text.
func documentedCodes(t *testing.T, path []string) map[int]string {
	t.Helper()
	r := escert(t, nil, append(slices.Clone(path), "--help")...)
	_, section, ok := strings.Cut(r.stdout, "EXIT CODES")
	if r.code != 0 || !ok {
		t.Fatalf("escert %s --help: exit %d, no EXIT CODES section:\n%s", strings.Join(path, " "), r.code, r.stdout)
	}
	codes := map[int]string{}
	last := -1
	for _, line := range strings.Split(section, "\n")[1:] {
		if m := exitLineRE.FindStringSubmatch(line); m != nil {
			last, _ = strconv.Atoi(m[1])
			codes[last] += m[2]
			continue
		}
		if strings.TrimSpace(line) == "" || !strings.HasPrefix(line, "    ") || last < 0 {
			break
		}
		codes[last] += " " + strings.TrimSpace(line)
	}
	return codes
}

// assertDocumented fails t unless code is one the help of the command args run
// documents: every answer a test sees must be in the command's EXIT CODES.
func assertDocumented(t *testing.T, args []string, code int) {
	t.Helper()
	path := commandPath(args)
	if path == nil {
		return // an unknown command: the root's usage error
	}
	if _, ok := documentedCodes(t, path)[code]; !ok {
		t.Errorf("escert %s exits %d, which its --help does not document", strings.Join(path, " "), code)
	}
}

func TestEveryKindHasItsOwnEscertCode(t *testing.T) {
	seen := map[int]fault.Kind{}
	for _, k := range fault.Kinds() {
		l, ok := escertCodes[k]
		if !ok {
			t.Fatalf("kind %v has no exit code", k)
		}
		if other, dup := seen[l.code]; dup {
			t.Fatalf("kinds %v and %v share exit code %d", k, other, l.code)
		}
		seen[l.code] = k
	}
}

// TestEveryCommandDocumentsTheCodeItAnswersABadFlagWith: a bad flag exits with the
// code the command's own help gives usage errors, whatever its contract.
func TestEveryCommandDocumentsTheCodeItAnswersABadFlagWith(t *testing.T) {
	paths := runnableCommands()
	if len(paths) < 20 {
		t.Fatalf("found %d commands, want every one of escert's", len(paths))
	}
	for _, path := range paths {
		t.Run(strings.Join(path, "_"), func(t *testing.T) {
			codes := documentedCodes(t, path)
			r := escert(t, nil, append(slices.Clone(path), "--no-such-flag")...)
			text, ok := codes[r.code]
			if !ok || !regexp.MustCompile(`(?i)usage|bad flag|flag`).MatchString(text) {
				t.Fatalf("exit %d (%q), but the help documents %v", r.code, r.stderr, codes)
			}
			if strings.Count(r.stderr, "\n") != 1 {
				t.Fatalf("stderr is not one line: %q", r.stderr)
			}
		})
	}
}

// TestEveryCommandThatLocksAnswersALockHeldWithItsDocumentedCode holds the config
// directory's lock the way another escert run would, and runs each writer of it.
func TestEveryCommandThatLocksAnswersALockHeldWithItsDocumentedCode(t *testing.T) {
	old := ksLockTimeout
	ksLockTimeout = 0
	t.Cleanup(func() { ksLockTimeout = old })
	ws := newMalformedWorkspace(t)
	unlock, err := atomicfs.Lock(ws.path("config"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ksUnlock, err := atomicfs.Lock(ws.path("ks"))
	if err != nil {
		t.Fatal(err)
	}
	defer ksUnlock()
	for _, tc := range []struct {
		args []string
		want string // the documented line says it
	}{
		{[]string{"install", "--bundle", ws.path("out/nodes/node1"), "--es-config", ws.path("config"), "--owner", "-"}, "lock"},
		{[]string{"renew", "--es-config", ws.path("config"), "--ca-dir", ws.path("out/ca"), "--force"}, "lock"},
		{[]string{"ca", "rotate", "begin", "--ca-dir", ws.path("out/ca"), "--es-config", ws.path("config")}, "lock"},
		{[]string{"client-config", "--bundle", ws.path("out"), "--out", ws.path("config")}, "lock"},
		{[]string{"keystore", "remove", "--path", ws.path("ks/elasticsearch.keystore"), "bootstrap.password"}, "lock"},
	} {
		t.Run(strings.Join(tc.args[:2], "_"), func(t *testing.T) {
			path := commandPath(tc.args)
			codes := documentedCodes(t, path)
			r := escertAt(t, time.Now, map[string]string{"ESCERT_CA_PASSWORD": malformedCAPass}, tc.args...)
			if text, ok := codes[r.code]; !ok || !strings.Contains(text, tc.want) {
				t.Fatalf("exit %d (%q), but the help documents %v", r.code, r.stderr, codes)
			}
		})
	}
}

// commandPath is the words of args that name a command.
func commandPath(args []string) []string {
	cmd, _, err := newRoot(&env{}).Find(args)
	if err != nil {
		return nil
	}
	return strings.Fields(cmd.CommandPath())[1:]
}

// exitCodesMarkdown renders the README's exit-code tables from the command tree:
// escert's codes with the commands that answer with each, then each command that
// keeps another tool's contract.
func exitCodesMarkdown() string {
	root := newRoot(&env{})
	var b strings.Builder
	b.WriteString("| code | meaning | commands |\n|---|---|---|\n")
	users := map[fault.Kind][]string{}
	var others []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c == root || c.Name() == "help" {
			return
		}
		if contractOf(c) != escertContract {
			if c.Annotations[exitAnnotation] != "" {
				others = append(others, c)
			}
			return
		}
		for _, k := range strings.Split(c.Annotations[exitKindsAnnotation], ",") {
			for _, kind := range fault.Kinds() {
				if kind.String() == k {
					users[kind] = append(users[kind], "`"+strings.TrimPrefix(c.CommandPath(), "escert ")+"`")
				}
			}
		}
	}
	walk(root)
	for _, l := range escertContract.lines(fault.Kinds()) {
		commands := "every command"
		for _, k := range fault.Kinds() {
			if escertCodes[k] == l && k != fault.Failed && k != fault.Usage {
				slices.Sort(users[k])
				commands = strings.Join(users[k], ", ")
			}
		}
		b.WriteString("| " + strconv.Itoa(l.code) + " | " + l.text + " | " + commands + " |\n")
	}
	for _, c := range others {
		contract := contractOf(c)
		if contract == keystoreContract {
			continue
		}
		b.WriteString("\n`" + c.CommandPath() + "` " + strings.TrimPrefix(contract.title, "EXIT CODES ") + ":\n\n| code | meaning |\n|---|---|\n")
		for _, l := range contract.lines(nil) {
			b.WriteString("| " + strconv.Itoa(l.code) + " | " + l.text + " |\n")
		}
	}
	b.WriteString("\n`escert keystore` and its subcommands answer with elasticsearch-keystore's codes (sysexits), which each subcommand's `--help` lists: " +
		"64 usage, 65 bad data (wrong password, damaged keystore), 74 I/O, 75 the lock was held too long, 78 configuration; `has-passwd` exits 1 for a keystore without a password.\n")
	return b.String()
}

const (
	readmeExitBegin = "<!-- exit codes: made by `go test ./internal/cli -run README -update-readme` -->\n"
	readmeExitEnd   = "<!-- end of exit codes -->\n"
)

// TestREADMEExitCodeTablesAreTheCommands: the README's tables are the commands' own
// EXIT CODES sections, so the two cannot drift.
func TestREADMEExitCodeTablesAreTheCommands(t *testing.T) {
	const path = "../../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	before, rest, ok1 := strings.Cut(readme, readmeExitBegin)
	current, after, ok2 := strings.Cut(rest, readmeExitEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no %q ... %q block", readmeExitBegin, readmeExitEnd)
	}
	want := exitCodesMarkdown()
	if current == want {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(before+readmeExitBegin+want+readmeExitEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's exit codes differ from the commands' (run go test ./internal/cli -run README -update-readme):\n%s", want)
}
