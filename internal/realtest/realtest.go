// Package realtest runs the real programs that consume escert's files, so tests can
// prove a file is right the only way that counts: the program that reads it accepts it.
//
// The consumers are Java (Elasticsearch is a JVM program: keytool and a JSSE TLS
// handshake), openssl 3, Go's crypto/tls, Node's tls module (Kibana) and Python's ssl
// module in strict mode. Each helper takes a testing.TB, finds its tool with Require
// (skipping the test when the tool is missing, failing it when ESCERT_REQUIRE_TOOLS=1),
// runs the tool with a timeout and returns the tool's own error text.
//
// The package is test support: import it only from _test.go files. Every helper is safe
// for parallel tests; each call works in its own t.TempDir.
//
// Errors come in two kinds. A helper returns an error wrapping ErrLoad when the program
// could not even load the key or trust material (a bad password, a truststore without
// trusted entries, an unreadable CA file); any other error is a failed connection or
// handshake. Negative tests should check which one they got, so a typo in a path cannot
// pass as "the handshake was rejected". Misuse of the helpers themselves (contradictory
// settings) fails the test.
//
// The Java side is one program, java/TLSPeer.java, embedded in this package. It is
// compiled with the JDK's javac once per machine into os.UserCacheDir()/escert-realtest,
// keyed by a hash of the source and the java binary. Every JSSE server is its own JVM;
// all JSSE client and load requests of a test process share one long-lived JVM, so a
// Java handshake costs milliseconds instead of a JVM start. Passwords reach Java and
// keytool through 0600 files or the environment, never the command line.
//
// A JSSE server can hot-reload its files as Elasticsearch does (JSSEConfig.ReloadInterval,
// StartReloadingJSSEServer), and reports the certificate it presented on every
// connection (ServedFingerprint); a Hammer keeps handshaking with it while a renewal
// test swaps the files, to prove no handshake failed and the new certificate arrived.
package realtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// ErrLoad marks errors where a program refused the key or trust material before any
// connection was made.
var ErrLoad = errors.New("could not load key or trust material")

// Timeouts. A JVM starts in about half a second; the margins cover a loaded CI machine.
const (
	// commandTimeout bounds every subprocess that is expected to finish by itself.
	commandTimeout = 60 * time.Second
	// serverStartTimeout bounds the wait for a JSSE server's READY line.
	serverStartTimeout = 30 * time.Second
	// lineWait is how long a client waits for the server's line after its own handshake
	// completed. In TLS 1.3 a server rejects a client certificate only after the client
	// has finished, so the rejection arrives as an alert on the first read; a peer that
	// stays silent this long is taken to have accepted.
	lineWait = 10 * time.Second
)

// exit codes shared by TLSPeer.java, connect.js and connect.py.
const (
	exitHandshake = 1
	exitUsage     = 2
	exitLoad      = 3
)

// toolPackages names the Debian package that provides each tool Require knows.
var toolPackages = map[string]string{
	"java":    "openjdk-17-jre-headless",
	"javac":   "openjdk-17-jdk-headless",
	"keytool": "openjdk-17-jre-headless",
	"openssl": "openssl",
	"node":    "nodejs",
	"python3": "python3",
	"curl":    "curl",
}

// Require returns the path of tool (java, javac, keytool, openssl, node, python3 or curl). When
// the tool is not on PATH it skips the test with a message naming the Debian package to
// install, or fails the test when ESCERT_REQUIRE_TOOLS=1, so CI cannot go green by
// skipping everything.
func Require(t testing.TB, tool string) string {
	t.Helper()
	pkg, ok := toolPackages[tool]
	if !ok {
		t.Fatalf("realtest.Require: unknown tool %q", tool)
	}
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	Missing(t, fmt.Sprintf("realtest: %s not found in PATH (install the Debian package %s)", tool, pkg))
	return ""
}

// Missing is what a test does when something it runs against is not here: it skips
// with msg, which says how to get it, or fails when ESCERT_REQUIRE_TOOLS=1 (as in CI),
// so a green run cannot come from skipping everything. Every "tool or server missing"
// decision goes through it.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("ESCERT_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s; ESCERT_REQUIRE_TOOLS=1 forbids skipping", msg)
		return
	}
	t.Skip(msg)
}

// result is what a finished subprocess left behind.
type result struct {
	stdout, stderr string
	code           int // exit code, -1 when the program did not exit normally
}

// run runs path with args under commandTimeout. It returns an error only when the
// program could not be started or timed out; a non-zero exit is reported in code.
func run(path string, args, extraEnv []string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%s timed out after %v: %s", filepath.Base(path), commandTimeout, res.message())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, fmt.Errorf("run %s: %w", filepath.Base(path), err)
	}
	return res, nil
}

// message is the program's own explanation: stderr, or stdout when stderr is empty.
func (r result) message() string {
	if m := strings.TrimSpace(r.stderr); m != "" {
		return m
	}
	return strings.TrimSpace(r.stdout)
}

// clientError turns the result of one of our client programs (TLSPeer, connect.js,
// connect.py) into the error the helpers return, or fails the test on a usage error.
func clientError(t testing.TB, name string, res result) error {
	t.Helper()
	switch res.code {
	case 0:
		return nil
	case exitLoad:
		return fmt.Errorf("%s: %w: %s", name, ErrLoad, res.message())
	case exitUsage:
		t.Fatalf("realtest: %s usage error: %s", name, res.message())
	}
	return fmt.Errorf("%s: %s", name, res.message())
}

// writeFile writes data to name in a fresh temporary directory with mode 0600 (it may
// hold passwords) and returns its path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("realtest: write %s: %v", path, err)
	}
	return path
}

// writeProperties writes props as a java.util.Properties file (ISO-8859-1 with \u
// escapes), mode 0600, and returns its path.
func writeProperties(t testing.TB, props map[string]string) string {
	t.Helper()
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(propertiesEscape(k))
		b.WriteByte('=')
		b.WriteString(propertiesEscape(props[k]))
		b.WriteByte('\n')
	}
	return writeFile(t, "tlspeer.properties", []byte(b.String()))
}

// propertiesEscape escapes s for java.util.Properties.load(InputStream): backslash
// escapes for the characters the format gives meaning to, \uXXXX for everything outside
// printable ASCII, so any password survives exactly.
func propertiesEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\f':
			b.WriteString(`\f`)
		case '=', ':', '#', '!', ' ':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			if r < 0x20 || r > 0x7e {
				for _, u := range utf16.Encode([]rune{r}) {
					fmt.Fprintf(&b, `\u%04x`, u)
				}
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// absPath makes p absolute so it does not depend on the subprocess's directory.
func absPath(t testing.TB, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatalf("realtest: %v", err)
	}
	return a
}
