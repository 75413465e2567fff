package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/fips"
)

// fipsEnv gives the passwords --fips demands.
var fipsEnv = map[string]string{"ESCERT_KEYSTORE_PASSWORD": "fourteen+ bytes keystore", "ESCERT_CA_PASSWORD": "fourteen+ bytes CA pass"}

func TestFIPSBootstrapWritesPEMAndTheFIPSSettings(t *testing.T) {
	if fips.Current().Name != "off" {
		t.Skip("the standard build's --fips flag is under test here")
	}
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	r := escert(t, fipsEnv, "bootstrap", "--fips", "--instances", in, "--out", out, "-q")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if p12s, _ := filepath.Glob(filepath.Join(out, "nodes", "*", "certs", "*.p12")); len(p12s) > 0 {
		t.Errorf("--fips wrote PKCS#12 files: %v", p12s)
	}
	yml, _ := os.ReadFile(filepath.Join(out, "nodes", "node1", "elasticsearch.yml"))
	if !strings.Contains(string(yml), "xpack.security.fips_mode.enabled: true") {
		t.Errorf("no fips_mode in the block:\n%s", yml)
	}
	key, _ := os.ReadFile(filepath.Join(out, "ca", "transport-ca.key"))
	if !strings.Contains(string(key), "ENCRYPTED PRIVATE KEY") {
		t.Error("the CA key is not encrypted under --fips")
	}
	node, _ := os.ReadFile(filepath.Join(out, "nodes", "node1", "certs", "transport.key"))
	if !strings.Contains(string(node), "BEGIN PRIVATE KEY") {
		t.Error("node keys must be unencrypted PKCS#8: BouncyCastle FIPS reads no encrypted key")
	}

	// install --fips takes the bundle, refuses a non-FIPS one.
	config := filepath.Join(dir, "config")
	os.Mkdir(config, 0o750)
	writeFile(t, config, "elasticsearch.yml", "path.data: /var/lib/elasticsearch\n")
	if r := escert(t, fipsEnv, "install", "--fips", "--bundle", filepath.Join(out, "nodes", "node1"), "--es-config", config, "--owner", "-"); r.code != ExitOK {
		t.Fatalf("install --fips: exit %d: %s", r.code, r.stderr)
	}
	plain := filepath.Join(dir, "plain")
	escert(t, nil, "bootstrap", "--instances", in, "--out", plain, "-q")
	r = escert(t, fipsEnv, "install", "--fips", "--bundle", filepath.Join(plain, "nodes", "node1"), "--es-config", config, "--owner", "-")
	if r.code != ExitInput || !strings.Contains(r.stderr, "which a FIPS JVM decrypts outside its FIPS module") {
		t.Errorf("install --fips of a p12 bundle: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestFIPSRefusalsSayWhatToUse(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	short := map[string]string{"ESCERT_KEYSTORE_PASSWORD": "short", "ESCERT_CA_PASSWORD": "fourteen+ bytes CA pass"}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no keystore password", map[string]string{"ESCERT_CA_PASSWORD": "fourteen+ bytes CA pass"}, nil, "FIPS mode needs a keystore password: give one of at least 14 bytes"},
		{"short keystore password", short, nil, "the keystore password has 5 bytes; FIPS mode needs at least 14"},
		{"no CA passphrase", map[string]string{"ESCERT_KEYSTORE_PASSWORD": "fourteen+ bytes keystore"}, nil, "FIPS mode needs a CA passphrase"},
		{"p12 asked for", fipsEnv, []string{"--format", "p12"}, "--format p12 is not allowed in FIPS mode"},
		{"RSA-1024", fipsEnv, []string{"--key-type", "rsa", "--key-size", "1024"}, "RSA-1024 is not allowed in FIPS mode: use --key-size 2048, 3072 or 4096, or --key-type ecdsa"},
		{"140-3 before 9.4", fipsEnv, []string{"--es-version", "8.19.21", "--fips-generation", "140-3"}, "FIPS 140-3 (BouncyCastle FIPS 2.x) needs Elasticsearch 9.4 or later, not 8.19.21: use 140-2"},
		{"unknown generation", fipsEnv, []string{"--fips-generation", "140-4"}, `--fips-generation "140-4": use 140-2`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"bootstrap", "--fips", "--instances", in, "--out", filepath.Join(dir, "out")}, tc.args...)
			r := escert(t, tc.env, args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, ExitUsage, tc.want)
			}
		})
	}
}
