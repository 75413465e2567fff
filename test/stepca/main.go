// Command stepca runs a real smallstep step-ca (github.com/smallstep/certificates) in
// process, for escert's tests: a fresh PKI (ECDSA P-256 root and intermediate) and one
// JWK provisioner with an encrypted key, as `step ca init` makes them, served on
// loopback with no database (step-ca's in-memory SimpleDB: tokens are single-use,
// nothing is stored, revocation is not implemented).
//
// It is a separate module so that escert itself never links step-ca; tests find the
// binary that scripts/build-stepca builds (internal/realtest.RequireStepCA).
//
// When the server answers /health it prints one line of JSON to stdout,
//
//	{"url":"https://127.0.0.1:PORT","root":"DIR/root_ca.crt","fingerprint":"SHA256 HEX","provisioner":"NAME"}
//
// and serves until SIGTERM or SIGINT. Everything else, step-ca's log included, goes to
// stderr.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/policy"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/ca"
	"go.step.sm/crypto/jose"
	"go.step.sm/crypto/pemutil"
)

// readyTimeout bounds the wait for the server's own /health. Start-up takes well under a
// second; the margin covers a loaded CI machine.
const readyTimeout = 30 * time.Second

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	dir, addr, dns, provisioner, passwordFile string
	templateFile                              string
	allowDNS, denyDNS                         listFlag
	minDur, defaultDur, maxDur                time.Duration
	renewAfterExpiry                          bool
}

func main() {
	log.SetFlags(log.LstdFlags)
	log.SetPrefix("stepca: ")
	var o options
	// A flag set of its own: step-ca's dependencies (glog) register theirs on the
	// default one, which would clutter -help.
	fs := flag.NewFlagSet("stepca", flag.ExitOnError)
	fs.StringVar(&o.dir, "dir", "", "working directory for the PKI and ca.json (required)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen address; port 0 picks a free port")
	fs.StringVar(&o.dns, "dns", "127.0.0.1,localhost", "comma-separated names in the CA server certificate")
	fs.StringVar(&o.provisioner, "provisioner", "escert-test", "name of the JWK provisioner")
	fs.StringVar(&o.passwordFile, "password-file", "", "file with the password of the provisioner and CA keys (default: a random one, written to DIR/password.txt)")
	fs.Var(&o.allowDNS, "allow-dns", "DNS name pattern the provisioner may sign (repeatable); with any, all other names are refused")
	fs.Var(&o.denyDNS, "deny-dns", "DNS name pattern the provisioner refuses (repeatable)")
	fs.DurationVar(&o.minDur, "min-duration", 5*time.Minute, "provisioner claim minTLSCertDuration")
	fs.DurationVar(&o.defaultDur, "default-duration", 24*time.Hour, "provisioner claim defaultTLSCertDuration")
	fs.DurationVar(&o.maxDur, "max-duration", 720*time.Hour, "provisioner claim maxTLSCertDuration")
	fs.BoolVar(&o.renewAfterExpiry, "allow-renewal-after-expiry", false, "provisioner claim allowRenewalAfterExpiry")
	fs.StringVar(&o.templateFile, "template-file", "", "the provisioner's X.509 template (options.x509.templateFile); default: step-ca's leaf template")
	_ = fs.Parse(os.Args[1:])
	if o.dir == "" || fs.NArg() > 0 {
		fs.Usage()
		os.Exit(2)
	}
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	// step-ca and its libraries may print to stdout; the JSON line must be the only
	// thing there, so everything else is sent to stderr.
	stdout := os.Stdout
	os.Stdout = os.Stderr

	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	dnsNames := splitList(o.dns)
	if len(dnsNames) == 0 {
		return errors.New("--dns names no name")
	}
	host, port, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	pass, err := password(o.passwordFile, dir)
	if err != nil {
		return err
	}

	files, root, err := writePKI(dir, pass)
	if err != nil {
		return err
	}
	prov, err := jwkProvisioner(o, pass)
	if err != nil {
		return err
	}

	// ca.Run listens itself (net.Listen on the configured address) and takes no
	// listener, so a port 0 is replaced by one that was free a moment ago; if another
	// process takes it in between, the start is tried again on another port.
	var srv *ca.CA
	var runErr chan error
	var url string
	for attempt := 1; ; attempt++ {
		listenPort := port
		if port == "0" {
			if listenPort, err = freePort(host); err != nil {
				return err
			}
		}
		addr := net.JoinHostPort(host, listenPort)
		cfgFile := filepath.Join(dir, "ca.json")
		cfg, err := writeConfig(cfgFile, addr, dnsNames, files, prov)
		if err != nil {
			return err
		}
		applyPolicy(cfg, o)
		srv, err = ca.New(cfg, ca.WithConfigFile(cfgFile), ca.WithPassword(pass))
		if err != nil {
			return fmt.Errorf("step-ca: %w", err)
		}
		runErr = make(chan error, 1)
		go func() { runErr <- srv.Run() }()

		urlHost := host
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			urlHost = dnsNames[0]
		}
		url = "https://" + net.JoinHostPort(urlHost, listenPort)
		err = waitReady(url, dnsNames[0], root, runErr)
		if err == nil {
			break
		}
		if port == "0" && attempt < 3 && errors.Is(err, syscall.EADDRINUSE) {
			log.Printf("port %s was taken, trying another: %v", listenPort, err)
			continue
		}
		return err
	}

	sum := sha256.Sum256(root.Raw)
	line, err := json.Marshal(struct {
		URL         string `json:"url"`
		Root        string `json:"root"`
		Fingerprint string `json:"fingerprint"`
		Provisioner string `json:"provisioner"`
	}{url, files.root, hex.EncodeToString(sum[:]), o.provisioner})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return err
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-sigs:
		log.Printf("%v: stopping", sig)
		if err := srv.Stop(); err != nil {
			log.Printf("stop: %v", err)
		}
		<-runErr
		return nil
	case err := <-runErr:
		return fmt.Errorf("step-ca stopped: %w", err)
	}
}

// password is the content of file without trailing newlines (as step's
// --password-file reads it), or a random password written to dir/password.txt.
func password(file, dir string) ([]byte, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		data = bytes.TrimRight(data, "\r\n")
		if len(data) == 0 {
			return nil, fmt.Errorf("%s: empty password", file)
		}
		return data, nil
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	pass := []byte(hex.EncodeToString(raw))
	return pass, os.WriteFile(filepath.Join(dir, "password.txt"), append(pass, '\n'), 0o600)
}

type pkiFiles struct {
	root, rootKey, intermediate, intermediateKey string
}

// writePKI creates the root and intermediate CA as `step ca init` does (ECDSA P-256,
// ten years, path length 1 and 0) and writes their certificates and password-encrypted
// keys to dir. It returns the files and the root.
func writePKI(dir string, pass []byte) (pkiFiles, *x509.Certificate, error) {
	f := pkiFiles{
		root:            filepath.Join(dir, "root_ca.crt"),
		rootKey:         filepath.Join(dir, "root_ca_key"),
		intermediate:    filepath.Join(dir, "intermediate_ca.crt"),
		intermediateKey: filepath.Join(dir, "intermediate_ca_key"),
	}
	now := time.Now().Add(-time.Minute) // a little backdating for clock skew, as step does
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, nil, err
	}
	rootTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "escert test Root CA", Organization: []string{"escert test"}},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	root, err := createCert(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return f, nil, err
	}
	intKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, nil, err
	}
	intTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "escert test Intermediate CA", Organization: []string{"escert test"}},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	intermediate, err := createCert(intTmpl, root, &intKey.PublicKey, rootKey)
	if err != nil {
		return f, nil, err
	}
	for _, c := range []struct {
		file string
		der  []byte
	}{{f.root, root.Raw}, {f.intermediate, intermediate.Raw}} {
		if err := os.WriteFile(c.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}), 0o644); err != nil {
			return f, nil, err
		}
	}
	for _, k := range []struct {
		file string
		key  *ecdsa.PrivateKey
	}{{f.rootKey, rootKey}, {f.intermediateKey, intKey}} {
		if _, err := pemutil.Serialize(k.key, pemutil.WithPassword(pass), pemutil.ToFile(k.file, 0o600)); err != nil {
			return f, nil, err
		}
	}
	return f, root, nil
}

func createCert(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// jwkProvisioner is the JWK provisioner `step ca init` adds (an ES256 key whose private
// part is stored as a JWE encrypted with the password, key ID its thumbprint), with
// the claims of the flags.
func jwkProvisioner(o options, pass []byte) (*provisioner.JWK, error) {
	pub, priv, err := jose.GenerateDefaultKeyPair(pass)
	if err != nil {
		return nil, err
	}
	encrypted, err := priv.CompactSerialize()
	if err != nil {
		return nil, err
	}
	var opts *provisioner.Options
	if o.templateFile != "" {
		opts = &provisioner.Options{X509: &provisioner.X509Options{TemplateFile: o.templateFile}}
	}
	return &provisioner.JWK{
		Type:         "JWK",
		Name:         o.provisioner,
		Key:          pub,
		EncryptedKey: encrypted,
		Options:      opts,
		Claims: &provisioner.Claims{
			MinTLSDur:               &provisioner.Duration{Duration: o.minDur},
			DefaultTLSDur:           &provisioner.Duration{Duration: o.defaultDur},
			MaxTLSDur:               &provisioner.Duration{Duration: o.maxDur},
			AllowRenewalAfterExpiry: &o.renewAfterExpiry,
		},
	}, nil
}

// writeConfig writes ca.json and loads it back, so that the server runs from the file
// a test can read (step-ca's own loader fills in the defaults).
func writeConfig(file, addr string, dnsNames []string, f pkiFiles, prov *provisioner.JWK) (*config.Config, error) {
	cfg := &config.Config{
		Root:             []string{f.root},
		IntermediateCert: f.intermediate,
		IntermediateKey:  f.intermediateKey,
		Address:          addr,
		DNSNames:         dnsNames,
		Logger:           json.RawMessage(`{"format": "text"}`),
		// No "db": step-ca then uses its SimpleDB, in memory.
		AuthorityConfig: &config.AuthConfig{
			Provisioners: provisioner.List{prov},
		},
		TLS: &config.DefaultTLSOptions,
	}
	if err := cfg.Save(file); err != nil {
		return nil, err
	}
	return config.LoadConfiguration(file)
}

// applyPolicy sets the x509 allow/deny DNS policy on the JWK provisioner. step-ca reads
// a provisioner's policy only from its admin database (the fields are json:"-" in
// ca.json), so it is set on the loaded provisioner, in process. An authority-level
// policy (authority.policy in ca.json) would also bind the CA's own server
// certificate, which an allow list would then refuse.
func applyPolicy(cfg *config.Config, o options) {
	if len(o.allowDNS) == 0 && len(o.denyDNS) == 0 {
		return
	}
	for _, p := range cfg.AuthorityConfig.Provisioners {
		jwk, ok := p.(*provisioner.JWK)
		if !ok || jwk.Name != o.provisioner {
			continue
		}
		if jwk.Options == nil {
			jwk.Options = &provisioner.Options{}
		}
		if jwk.Options.X509 == nil {
			jwk.Options.X509 = &provisioner.X509Options{}
		}
		if len(o.allowDNS) > 0 {
			jwk.Options.X509.AllowedNames = &policy.X509NameOptions{DNSDomains: o.allowDNS}
		}
		if len(o.denyDNS) > 0 {
			jwk.Options.X509.DeniedNames = &policy.X509NameOptions{DNSDomains: o.denyDNS}
		}
	}
}

// waitReady polls url/health, trusting only root and expecting serverName in the
// server's certificate, until it answers ok, the server stops or readyTimeout passes.
func waitReady(url, serverName string, root *x509.Certificate, runErr <-chan error) error {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName}},
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /health: %s", resp.Status)
		}
		lastErr = err
		select {
		case err := <-runErr:
			return fmt.Errorf("step-ca stopped at start: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("step-ca at %s not ready after %v: %w", url, readyTimeout, lastErr)
		case <-tick.C:
		}
	}
}

// freePort returns a port on host that was free a moment ago.
func freePort(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
