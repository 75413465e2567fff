package realtest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// stepCAStartTimeout bounds the wait for the step-ca helper's JSON line. It starts in
// well under a second (the PKI is a few P-256 keys); the margin covers a loaded CI
// machine.
const stepCAStartTimeout = 60 * time.Second

// RequireStepCA returns the path of the step-ca test server (test/stepca, which runs
// smallstep's step-ca in process): ESCERT_STEPCA_BIN, or else the newest executable
// stepca-* that scripts/build-stepca left in its cache ($ESCERT_CACHE, else
// os.UserCacheDir()/escert-stepca). Without one it skips the test with a message naming
// scripts/build-stepca, or fails it when ESCERT_REQUIRE_TOOLS=1.
func RequireStepCA(t testing.TB) string {
	t.Helper()
	return requireServer(t, "step-ca test server", "ESCERT_STEPCA_BIN", "escert-stepca", "stepca-", "scripts/build-stepca")
}

// StepCAOptions configures the CA's one JWK provisioner. The zero value is a
// provisioner named "escert-test" with a random password, no name policy, step-ca's
// usual claims (certificates of 5m to 720h, 24h by default) and no renewal after expiry.
type StepCAOptions struct {
	// Provisioner is the provisioner's name; "" is "escert-test".
	Provisioner string
	// Password encrypts the provisioner's key (and the CA keys); "" is a random one.
	// The key is a JWE (PBES2-HS256+A128KW, A256GCM), which a process under
	// GODEBUG=fips140=only cannot decrypt: Go refuses GCM with a given nonce there.
	Password string
	// AllowDNS and DenyDNS are the provisioner's x509 DNS name policy, patterns such as
	// "*.example.test". With any AllowDNS, every other name is refused.
	AllowDNS, DenyDNS []string
	// MinDuration, DefaultDuration and MaxDuration are the provisioner's claims
	// minTLSCertDuration, defaultTLSCertDuration and maxTLSCertDuration; 0 keeps the
	// default (5m, 24h, 720h). step-ca backdates a certificate by a minute and counts
	// that minute in the duration it checks against these bounds.
	MinDuration, DefaultDuration, MaxDuration time.Duration
	// AllowRenewalAfterExpiry is the claim allowRenewalAfterExpiry: an expired
	// certificate can be renewed with a token signed by its key (x5cInsecure).
	AllowRenewalAfterExpiry bool
	// Template is the provisioner's X.509 template (options.x509.templateFile); ""
	// keeps step-ca's default leaf template.
	Template string
}

// StepCA is a running step-ca: a fresh root and intermediate CA (ECDSA P-256), one JWK
// provisioner, no database (tokens are single-use, nothing is stored, revocation is not
// implemented), listening on loopback only.
type StepCA struct {
	// URL is the CA's address, https://127.0.0.1:<port>, served with a certificate for
	// 127.0.0.1 and localhost from its own intermediate.
	URL string
	// RootFile is the PEM file of the root CA (what `step ca bootstrap` would fetch).
	RootFile string
	// Fingerprint is the SHA-256 of the root's DER, lowercase hex (step's fingerprint).
	Fingerprint string
	// Provisioner is the JWK provisioner's name.
	Provisioner string
	// Password decrypts the provisioner's key; PasswordFile holds it (0600, with a
	// trailing newline, as step's --password-file reads it).
	Password, PasswordFile string
	// Root is the root CA certificate.
	Root *x509.Certificate
	// Dir holds the CA's files: ca.json, root_ca.crt, intermediate_ca.crt and their
	// keys (root_ca_key, intermediate_ca_key, encrypted with Password).
	Dir string

	templateFile string // the provisioner's template; "" when started without one

	cmd      *exec.Cmd
	output   *lockedBuffer
	exited   chan struct{}
	stopOnce sync.Once
}

// StartStepCA starts the step-ca test server on a free loopback port in a t.TempDir
// and waits for its JSON line, which it prints once it has answered its own /health.
// The server is killed by t.Cleanup, or earlier by Stop. The password reaches it
// through a 0600 file, never the command line.
func StartStepCA(t testing.TB, opts StepCAOptions) *StepCA {
	t.Helper()
	bin := RequireStepCA(t)
	dir := t.TempDir()
	s, err := startStepCA(bin, dir, opts)
	if err != nil {
		t.Fatalf("realtest: start step-ca: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func startStepCA(bin, dir string, opts StepCAOptions) (*StepCA, error) {
	if opts.Provisioner == "" {
		opts.Provisioner = "escert-test"
	}
	if opts.Password == "" {
		raw := make([]byte, 16)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		opts.Password = "escert-test-" + hex.EncodeToString(raw)
	}
	s := &StepCA{
		Password:     opts.Password,
		PasswordFile: filepath.Join(dir, "password"),
		Dir:          filepath.Join(dir, "ca"),
		output:       &lockedBuffer{},
		exited:       make(chan struct{}),
	}
	if err := os.WriteFile(s.PasswordFile, []byte(opts.Password+"\n"), 0o600); err != nil {
		return nil, err
	}
	args := []string{
		"--dir", s.Dir,
		"--addr", "127.0.0.1:0", // the server picks a free port itself
		"--dns", "127.0.0.1,localhost",
		"--provisioner", opts.Provisioner,
		"--password-file", s.PasswordFile,
	}
	for _, p := range opts.AllowDNS {
		args = append(args, "--allow-dns", p)
	}
	for _, p := range opts.DenyDNS {
		args = append(args, "--deny-dns", p)
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{{"--min-duration", opts.MinDuration}, {"--default-duration", opts.DefaultDuration}, {"--max-duration", opts.MaxDuration}} {
		if d.value != 0 {
			args = append(args, d.flag, d.value.String())
		}
	}
	if opts.AllowRenewalAfterExpiry {
		args = append(args, "--allow-renewal-after-expiry")
	}
	if opts.Template != "" {
		s.templateFile = filepath.Join(dir, "leaf.tpl")
		if err := os.WriteFile(s.templateFile, []byte(opts.Template), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--template-file", s.templateFile)
	}

	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = stepCAEnv(os.Environ(), filepath.Join(dir, "step"))
	line := &firstLine{ready: make(chan struct{})}
	s.cmd.Stdout = line
	s.cmd.Stderr = s.output
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	fail := func(err error) (*StepCA, error) {
		s.Stop()
		return nil, fmt.Errorf("%w; server output:\n%s", err, s.Output())
	}
	select {
	case <-line.ready:
	case <-s.exited:
		return fail(fmt.Errorf("step-ca exited at start (%v)", s.cmd.ProcessState))
	case <-time.After(stepCAStartTimeout):
		return fail(fmt.Errorf("step-ca printed no address after %v", stepCAStartTimeout))
	}

	var info struct {
		URL         string `json:"url"`
		Root        string `json:"root"`
		Fingerprint string `json:"fingerprint"`
		Provisioner string `json:"provisioner"`
	}
	if err := json.Unmarshal(line.bytes(), &info); err != nil {
		return fail(fmt.Errorf("step-ca's first line %q: %w", line.bytes(), err))
	}
	s.URL, s.RootFile, s.Fingerprint, s.Provisioner = info.URL, info.Root, info.Fingerprint, info.Provisioner
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") || s.Provisioner != opts.Provisioner {
		return fail(fmt.Errorf("step-ca's first line %q: not a loopback URL or not provisioner %q", line.bytes(), opts.Provisioner))
	}
	root, err := readRootCert(s.RootFile)
	if err != nil {
		return fail(err)
	}
	// The fingerprint is what code under test pins (step ca bootstrap --fingerprint), so
	// a helper that reports another one must not pass unnoticed.
	if sum := sha256.Sum256(root.Raw); hex.EncodeToString(sum[:]) != s.Fingerprint {
		return fail(fmt.Errorf("step-ca reported fingerprint %s, but %s hashes to %x", s.Fingerprint, s.RootFile, sum))
	}
	s.Root = root
	return s, nil
}

// readRootCert parses the one certificate of a PEM file.
func readRootCert(file string) (*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	return x509.ParseCertificate(block.Bytes)
}

// HTTPClient is an HTTP client that trusts only the CA's root, for checks against the
// server beside the code under test.
func (s *StepCA) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(s.Root)
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
}

// Stop kills the server and waits for it to exit, so a test can take the CA away
// mid-run. It is safe to call more than once; t.Cleanup calls it too. Nothing is lost
// that a later test could need: the server keeps no state outside its process.
func (s *StepCA) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
		}
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
		}
	})
}

// SetTemplate replaces the provisioner's X.509 template while the CA runs: step-ca
// reads the template file at every signing, so the certificates issued from then on
// are those of a provisioner whose template an operator changed (one that left out a
// usage, say), from the same CA. The CA must have been started with a Template.
func (s *StepCA) SetTemplate(t testing.TB, template string) {
	t.Helper()
	if s.templateFile == "" {
		t.Fatal("realtest: SetTemplate on a step-ca started without StepCAOptions.Template")
	}
	// Renamed into place, so a signing in between reads the old template or the new
	// one, never half of one.
	tmp := s.templateFile + ".new"
	if err := os.WriteFile(tmp, []byte(template), 0o600); err != nil {
		t.Fatalf("realtest: set step-ca's template: %v", err)
	}
	if err := os.Rename(tmp, s.templateFile); err != nil {
		t.Fatalf("realtest: set step-ca's template: %v", err)
	}
}

// Output is what the server logged so far (step-ca's log: one line per request, with
// the reason of every refusal). Tokens appear in it; they are single-use and signed by
// a key that exists only in this test.
func (s *StepCA) Output() string { return s.output.String() }

// stepCAEnv is env without GODEBUG, STEPPATH and STEP_* variables, plus STEPPATH=stepPath.
// step-ca must not run under a test's GODEBUG=fips140=only (its libraries use SHA-1,
// for key IDs among others), and a developer's own step configuration (~/.step,
// contexts) must not reach the test server.
func stepCAEnv(env []string, stepPath string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "GODEBUG=") || strings.HasPrefix(kv, "STEPPATH=") || strings.HasPrefix(kv, "STEP_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "STEPPATH="+stepPath)
}

// firstLine collects a process's stdout and closes ready once the first line is
// complete. The step-ca helper prints only that line.
type firstLine struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	done  bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf.Write(p)
	if !f.done && bytes.IndexByte(f.buf.Bytes(), '\n') >= 0 {
		f.done = true
		close(f.ready)
	}
	return len(p), nil
}

// bytes is the first line without its newline.
func (f *firstLine) bytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	line, _, _ := bytes.Cut(f.buf.Bytes(), []byte("\n"))
	return bytes.Clone(line)
}
