package realtest

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tlsPeerSource is the Java program behind every JSSE helper.
//
//go:embed java/TLSPeer.java
var tlsPeerSource []byte

// Store is a key or trust store as JSSE loads it: a PKCS#12 file with its password, or
// PEM files. Which fields count depends on the role (see JSSEConfig).
type Store struct {
	// P12Path and P12Password name a PKCS#12 file, loaded with KeyStore.getInstance("PKCS12")
	// as Elasticsearch does for a *.p12 path. As a keystore the key password is the store
	// password (Elasticsearch's default). An empty password is passed as an empty char[].
	P12Path, P12Password string
	// KeyPEM is a private key: PKCS#8 ("PRIVATE KEY"), encrypted PKCS#8 ("ENCRYPTED PRIVATE
	// KEY", with KeyPassword), SEC1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY").
	// Legacy Proc-Type/DEK-Info encryption is refused. CertPEM is the certificate chain,
	// leaf first. The key must belong to the leaf.
	KeyPEM, CertPEM string
	// KeyPassword decrypts an encrypted PKCS#8 KeyPEM (Elasticsearch's
	// ssl.secure_key_passphrase); PBES2 schemes are resolved the way Elasticsearch's
	// PemUtils does.
	KeyPassword string
	// CAPEMs are PEM files whose certificates all become trust anchors (Elasticsearch's
	// ssl.certificate_authorities).
	CAPEMs []string
}

// JSSEConfig configures one Java TLS endpoint.
type JSSEConfig struct {
	// Key is the endpoint's key material: P12Path, or KeyPEM with CertPEM. Empty means no
	// certificate to present.
	Key Store
	// Trust is P12Path or CAPEMs. A PKCS#12 truststore must contain trustedCertEntry
	// entries; like Elasticsearch's StoreTrustConfig, loading fails with "does not contain
	// any trusted certificate entries" otherwise. Its anchors are then whatever Java's
	// TrustManagerFactory takes from the KeyStore (the JDK also adds the leaf of each key
	// entry, exactly as in Elasticsearch). Empty means the JDK's default cacerts.
	Trust Store
	// ClientAuth makes a server require a client certificate (the Elasticsearch transport
	// layer's client_authentication: required).
	ClientAuth bool
	// TrustSubjectPatterns emulates Elasticsearch's transport trust restrictions
	// (trust.subject_name in the trust_restrictions file, default x509_fields): after
	// normal chain validation, the peer's leaf must carry a subjectAltName otherName with
	// type-id 2.5.4.3 (commonName) whose string value matches one of these patterns, as
	// Elasticsearch's RestrictedTrustManager checks. '*' matches any run of characters,
	// '?' one character; Lucene regular expressions (/.../) are not emulated. Applies to
	// the server checking clients and to a client checking servers.
	TrustSubjectPatterns []string
	// Protocols restricts the TLS versions, e.g. []string{"TLSv1.3"}. Empty means the
	// JDK's defaults (TLSv1.3 and TLSv1.2).
	Protocols []string
	// ReloadInterval makes a server hot-reload its key and trust material the way
	// Elasticsearch does (it polls every resource.reload.interval.high, 5 s): every
	// interval the server compares the existence, modification time, size and SHA-256 of
	// each configured file (Key.P12Path, Key.KeyPEM, Key.CertPEM, Trust.P12Path,
	// Trust.CAPEMs) with the previous poll, and on any change rebuilds its SSLContext
	// from the files, trust restrictions included. Connections accepted after a
	// successful reload use the new context; open ones keep theirs. When the new files do
	// not load, the server keeps the old context and records the failure. One change
	// causes one attempt; a failed attempt is retried only after the next change. Files
	// swapped one after another may cause one attempt or several, depending on where the
	// polls fall, so wait for reload counts relative to Reloads, not absolute ones. Zero
	// means no reloading. See StartReloadingJSSEServer.
	ReloadInterval time.Duration
	// ReloadSkipsKeyCheck makes a reload install a PEM key and certificate without
	// checking that they belong together, exactly as Elasticsearch does (its PemKeyConfig
	// never compares them): a reload that reads a new key with the old certificate (or
	// the reverse) succeeds, and new handshakes then fail until the next change is
	// reloaded. By default such a reload fails ("does not match the certificate") and the
	// old context stays, so handshakes keep working and the failure shows in
	// JSSEServer.Reloads; each such failure is a window in which Elasticsearch would have
	// served a broken key pair. The server's initial load always checks.
	ReloadSkipsKeyCheck bool
}

// properties renders cfg for TLSPeer.java. Contradictory settings are test bugs and
// fail the test.
func (cfg JSSEConfig) properties(t testing.TB) map[string]string {
	t.Helper()
	p := map[string]string{}
	k := cfg.Key
	switch {
	case len(k.CAPEMs) > 0:
		t.Fatalf("realtest: JSSEConfig.Key.CAPEMs is not used; put CA files in Trust.CAPEMs")
	case k.P12Path != "" && (k.KeyPEM != "" || k.CertPEM != ""):
		t.Fatalf("realtest: JSSEConfig.Key has both P12Path and PEM files")
	case (k.KeyPEM == "") != (k.CertPEM == ""):
		t.Fatalf("realtest: JSSEConfig.Key needs both KeyPEM and CertPEM")
	case k.P12Path != "":
		p["key.p12"] = absPath(t, k.P12Path)
		p["key.p12.password"] = k.P12Password
	case k.KeyPEM != "":
		p["key.pem"] = absPath(t, k.KeyPEM)
		p["cert.pem"] = absPath(t, k.CertPEM)
		if k.KeyPassword != "" {
			p["key.pem.password"] = k.KeyPassword
		}
	}
	tr := cfg.Trust
	switch {
	case tr.KeyPEM != "" || tr.CertPEM != "" || tr.KeyPassword != "":
		t.Fatalf("realtest: JSSEConfig.Trust takes P12Path or CAPEMs, not key files")
	case tr.P12Path != "" && len(tr.CAPEMs) > 0:
		// Elasticsearch refuses truststore.path together with certificate_authorities.
		t.Fatalf("realtest: JSSEConfig.Trust has both P12Path and CAPEMs")
	case tr.P12Path != "":
		p["trust.p12"] = absPath(t, tr.P12Path)
		p["trust.p12.password"] = tr.P12Password
	}
	for i, ca := range tr.CAPEMs {
		p["trust.ca."+strconv.Itoa(i)] = absPath(t, ca)
	}
	for i, pat := range cfg.TrustSubjectPatterns {
		p["trust.pattern."+strconv.Itoa(i)] = pat
	}
	for _, proto := range cfg.Protocols {
		if strings.Contains(proto, ",") {
			t.Fatalf("realtest: bad protocol name %q", proto)
		}
	}
	p["protocols"] = strings.Join(cfg.Protocols, ",")
	p["clientauth"] = strconv.FormatBool(cfg.ClientAuth)
	if cfg.ReloadInterval < 0 {
		t.Fatalf("realtest: negative JSSEConfig.ReloadInterval %v", cfg.ReloadInterval)
	}
	if cfg.ReloadInterval > 0 {
		p["reload.interval.ms"] = strconv.FormatInt(max(cfg.ReloadInterval.Milliseconds(), 1), 10)
	}
	p["reload.keycheck"] = strconv.FormatBool(!cfg.ReloadSkipsKeyCheck)
	return p
}

// javaBuild holds the compiled TLSPeer class directory, built once per test process.
var javaBuild struct {
	once sync.Once
	java string // resolved java binary the classes were compiled for
	dir  string
	err  error
}

// errNoJavac means the classes are not cached and no javac was found.
var errNoJavac = errors.New("javac not found")

// tlsPeer returns the java binary and the class directory holding TLSPeer.class.
//
// The classes are cached under os.UserCacheDir()/escert-realtest/<key>, where key hashes
// the source and the resolved java binary, so a changed source or JDK gets a fresh
// build and an unchanged one is compiled only once per machine. Each build happens in a
// private temporary directory that is renamed into place; when several test processes
// race, one rename wins and the others use its result, so no lock is needed.
func tlsPeer(t testing.TB) (java, classDir string) {
	t.Helper()
	javaPath := Require(t, "java")
	javaBuild.once.Do(func() {
		javaBuild.java, javaBuild.dir, javaBuild.err = buildTLSPeer(javaPath)
	})
	if errors.Is(javaBuild.err, errNoJavac) {
		Require(t, "javac") // skips, or fails under ESCERT_REQUIRE_TOOLS=1
	}
	if javaBuild.err != nil {
		t.Fatalf("realtest: %v", javaBuild.err)
	}
	return javaBuild.java, javaBuild.dir
}

func buildTLSPeer(javaPath string) (java, dir string, err error) {
	java, err = filepath.EvalSymlinks(javaPath)
	if err != nil {
		return "", "", fmt.Errorf("resolve %s: %w", javaPath, err)
	}
	sum := sha256.New()
	sum.Write(tlsPeerSource)
	sum.Write([]byte{0})
	sum.Write([]byte(java))
	key := hex.EncodeToString(sum.Sum(nil))[:16]

	var errs []error
	for _, base := range cacheBases() {
		dir := filepath.Join(base, key)
		if _, err := os.Stat(filepath.Join(dir, "TLSPeer.class")); err == nil {
			return java, dir, nil
		}
		if err := compileTLSPeer(java, base, dir); err != nil {
			if errors.Is(err, errNoJavac) {
				return "", "", err
			}
			errs = append(errs, err)
			continue
		}
		return java, dir, nil
	}
	return "", "", fmt.Errorf("compile TLSPeer.java: %w", errors.Join(errs...))
}

// cacheBases lists where compiled classes may live: the user cache, then the temp dir
// for machines without a usable home directory.
func cacheBases() []string {
	var bases []string
	if d, err := os.UserCacheDir(); err == nil {
		bases = append(bases, filepath.Join(d, "escert-realtest"))
	}
	return append(bases, filepath.Join(os.TempDir(), "escert-realtest"))
}

func compileTLSPeer(java, base, dir string) error {
	// Prefer the javac of the same JDK as java, so the class file version fits.
	javac := filepath.Join(filepath.Dir(java), "javac")
	if _, err := os.Stat(javac); err != nil {
		if javac, err = exec.LookPath("javac"); err != nil {
			return errNoJavac
		}
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(base, filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op after a successful rename
	src := filepath.Join(tmp, "TLSPeer.java")
	if err := os.WriteFile(src, tlsPeerSource, 0o644); err != nil {
		return err
	}
	res, err := run(javac, []string{"-encoding", "UTF-8", "-d", tmp, src}, nil)
	if err != nil {
		return err
	}
	if res.code != 0 {
		return fmt.Errorf("javac: %s", res.message())
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process may have won the race; its build is as good as ours.
		if _, statErr := os.Stat(filepath.Join(dir, "TLSPeer.class")); statErr == nil {
			return nil
		}
		return err
	}
	return nil
}

// javaArgs starts a JVM for TLSPeer: the serial GC and the C1-only JIT cut start-up
// time (TLS work here is small), and English messages make errors comparable across
// machines.
func javaArgs(classDir string, args ...string) []string {
	return append([]string{
		"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m",
		"-Duser.language=en", "-Duser.country=US",
		"-cp", classDir, "TLSPeer",
	}, args...)
}

// StartJSSEServer starts a Java TLS server on 127.0.0.1 on a free port and returns
// "127.0.0.1:port". Each accepted connection completes the handshake, gets one line
// "OK <peer subject or -> <protocol> <server certificate SHA-256>" (see
// ServedFingerprint) and is closed. The server is stopped by t.Cleanup, which also logs
// what it saw (one line per connection). A server that cannot start fails the test; use
// TryStartJSSEServer to assert that Java refuses a config. With cfg.ReloadInterval the
// server reloads its files; StartReloadingJSSEServer returns a handle to observe that.
func StartJSSEServer(t testing.TB, cfg JSSEConfig) string {
	t.Helper()
	return StartReloadingJSSEServer(t, cfg).Addr
}

// TryStartJSSEServer is StartJSSEServer returning the error (wrapping ErrLoad when Java
// refused the key or trust material) instead of failing the test.
func TryStartJSSEServer(t testing.TB, cfg JSSEConfig) (string, error) {
	t.Helper()
	s, err := startJSSEServer(t, cfg)
	if err != nil {
		return "", err
	}
	return s.Addr, nil
}

// JSSEServer is a running Java TLS server (see StartJSSEServer) with its reload record.
type JSSEServer struct {
	// Addr is "127.0.0.1:port".
	Addr string

	out    *serverOutput
	stderr *lockedBuffer
	exited <-chan struct{}
}

// StartReloadingJSSEServer is StartJSSEServer returning a handle on which a test can
// follow the server's reloads (cfg.ReloadInterval; without it no reload ever happens)
// and the handshakes it rejected.
func StartReloadingJSSEServer(t testing.TB, cfg JSSEConfig) *JSSEServer {
	t.Helper()
	s, err := startJSSEServer(t, cfg)
	if err != nil {
		t.Fatalf("realtest: start JSSE server: %v", err)
	}
	return s
}

// Reloads returns how many reload attempts succeeded and how many failed so far.
func (s *JSSEServer) Reloads() (ok, failed int) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return len(s.out.reloaded), len(s.out.failures)
}

// ReloadFailures returns Java's message for each failed reload attempt, oldest first.
func (s *JSSEServer) ReloadFailures() []string {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return slices.Clone(s.out.failures)
}

// ReloadedFingerprints returns, for each successful reload, the SHA-256 (lowercase hex)
// of the leaf certificate the server then loaded ("-" for none), oldest first.
func (s *JSSEServer) ReloadedFingerprints() []string {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return slices.Clone(s.out.reloaded)
}

// WaitReload waits until at least n reloads have succeeded; it fails the test when
// that takes longer than timeout or the server exits first.
func (s *JSSEServer) WaitReload(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	s.wait(t, "successful reloads", n, timeout, func() int { return len(s.out.reloaded) })
}

// WaitReloadFailed waits until at least n reload attempts have failed; it fails the
// test when that takes longer than timeout or the server exits first.
func (s *JSSEServer) WaitReloadFailed(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	s.wait(t, "failed reloads", n, timeout, func() int { return len(s.out.failures) })
}

// WaitRejected waits until the server has logged a rejected handshake whose reason
// contains want. A refused client cannot always tell why: in TLS 1.3 the server's alert
// races the client's last handshake write, which then fails with a broken pipe instead.
// The server's own record is the one that says which check refused.
func (s *JSSEServer) WaitRejected(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(s.stderr.String(), "\n") {
			if strings.HasPrefix(line, "rejected ") && strings.Contains(line, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("realtest: JSSE server %s logged no rejection containing %q after %v; log:\n%s",
				s.Addr, want, timeout, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *JSSEServer) wait(t testing.TB, what string, n int, timeout time.Duration, count func() int) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.out.mu.Lock()
		got, changed := count(), s.out.changed
		s.out.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-s.exited:
			t.Fatalf("realtest: JSSE server %s exited after %d of %d %s", s.Addr, got, n, what)
		case <-deadline.C:
			ok, failed := s.Reloads()
			t.Fatalf("realtest: JSSE server %s: %d of %d %s after %v (reloads: %d ok, %d failed %q)",
				s.Addr, got, n, what, timeout, ok, failed, s.ReloadFailures())
		}
	}
}

// startJSSEServer starts a TLSPeer server JVM; see StartJSSEServer.
func startJSSEServer(t testing.TB, cfg JSSEConfig) (*JSSEServer, error) {
	t.Helper()
	java, classDir := tlsPeer(t)
	conf := writeProperties(t, cfg.properties(t))

	cmd := exec.Command(java, javaArgs(classDir, "server", conf)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("realtest: %v", err)
	}
	out := newServerOutput()
	stderr := &lockedBuffer{}
	cmd.Stdout = out
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("realtest: start java: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit code is read from cmd.ProcessState after exited closes
		close(exited)
	}()
	stop := func() {
		_ = stdin.Close() // TLSPeer exits at end of stdin
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	select {
	case port := <-out.port:
		addr := net.JoinHostPort("127.0.0.1", port)
		t.Cleanup(func() {
			stop()
			if log := strings.TrimSpace(stderr.String()); log != "" {
				t.Logf("JSSE server %s log:\n%s", addr, log)
			}
		})
		return &JSSEServer{Addr: addr, out: out, stderr: stderr, exited: exited}, nil
	case <-exited:
		res := result{stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
		return nil, clientError(t, "java TLSPeer server", res)
	case <-time.After(serverStartTimeout):
		stop()
		return nil, fmt.Errorf("java TLSPeer server not ready after %v: %s", serverStartTimeout, strings.TrimSpace(stderr.String()))
	}
}

// ServedFingerprint returns the SHA-256 (lowercase hex) of the certificate a JSSE
// server presented, taken from its line "OK <peer subject or -> <protocol> <SHA-256>"
// as JSSEDial returns it, or "" when line carries none (a line from another server,
// "CLOSED ..." or "SILENT ..."). The subject may contain spaces; the fingerprint is the
// last field.
func ServedFingerprint(line string) string {
	if !strings.HasPrefix(line, "OK ") {
		return ""
	}
	fields := strings.Fields(line)
	fp := fields[len(fields)-1]
	if len(fields) < 4 || !isSHA256Hex(fp) {
		return ""
	}
	return fp
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// JSSEHandshake connects to addr as a Java client and returns nil when the handshake
// completes and the server accepts it, else an error carrying Java's message (wrapping
// ErrLoad when Java refused cfg's files). When host is not empty it is used for SNI and
// verified with endpoint identification "HTTPS" (a DNS name against DNS SANs, an IP
// against IP SANs), as Elasticsearch does with verification_mode full; an empty host
// checks the chain only (verification_mode certificate). cfg.ClientAuth is ignored.
//
// After its handshake the client reads one line: in TLS 1.3 a server rejects a client
// certificate only after the client finished, so the rejection arrives as an alert on
// that read. A server that closes, or sends nothing for 10 s, has accepted.
func JSSEHandshake(t testing.TB, cfg JSSEConfig, addr, host string) error {
	t.Helper()
	_, err := JSSEDial(t, cfg, addr, host)
	return err
}

// JSSEDial is JSSEHandshake returning the server's line, e.g. "OK CN=node1 TLSv1.3
// 3f5a…" from a StartJSSEServer server, whose last field is the SHA-256 of the
// certificate the server presented (see ServedFingerprint); "CLOSED <protocol>" or
// "SILENT <protocol>" for a peer that closed or sent nothing.
func JSSEDial(t testing.TB, cfg JSSEConfig, addr, host string) (string, error) {
	t.Helper()
	connectHost, port := splitAddr(t, addr)
	p := cfg.properties(t)
	p["connect.host"] = connectHost
	p["connect.port"] = port
	p["verify.host"] = host
	p["line.wait.ms"] = strconv.FormatInt(lineWait.Milliseconds(), 10)
	res, err := javaRequest(t, "client", p)
	if err != nil {
		return "", err
	}
	if err := clientError(t, "java TLSPeer client", res); err != nil {
		return "", err
	}
	return strings.TrimSpace(res.stdout), nil
}

// JSSELoad loads cfg's key and trust material exactly as the JSSE server and client do,
// without connecting: nil when Java accepts the files, else an error wrapping ErrLoad.
func JSSELoad(t testing.TB, cfg JSSEConfig) error {
	t.Helper()
	res, err := javaRequest(t, "load", cfg.properties(t))
	if err != nil {
		return err
	}
	return clientError(t, "java TLSPeer load", res)
}

// serverOutput is a TLSPeer server's stdout: it reports the port from the first
// "READY <port>" line and records "RELOADED <n> <SHA-256>" and "RELOAD-FAILED <n>
// <message>" lines.
type serverOutput struct {
	port chan string // receives the port once

	mu       sync.Mutex
	buf      []byte
	ready    bool
	reloaded []string      // leaf fingerprint per successful reload
	failures []string      // message per failed reload
	changed  chan struct{} // closed and replaced on every recorded reload attempt
}

func newServerOutput() *serverOutput {
	return &serverOutput{port: make(chan string, 1), changed: make(chan struct{})}
}

func (w *serverOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimSpace(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
		w.line(line)
	}
}

// line handles one complete line; w.mu is held.
func (w *serverOutput) line(line string) {
	word, rest, _ := strings.Cut(line, " ")
	_, rest, _ = strings.Cut(rest, " ") // the attempt number
	switch word {
	case "READY":
		if !w.ready {
			w.ready = true
			w.port <- strings.TrimSpace(strings.TrimPrefix(line, "READY"))
		}
		return
	case "RELOADED":
		fp, _, _ := strings.Cut(rest, " ")
		w.reloaded = append(w.reloaded, fp)
	case "RELOAD-FAILED":
		w.failures = append(w.failures, rest)
	default:
		return
	}
	close(w.changed)
	w.changed = make(chan struct{})
}
