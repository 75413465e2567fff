package realtest

import (
	"bufio"
	"context"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

//go:embed java/FIPSProviders.java
var fipsProvidersSource []byte

// JVMOptions are the options every node of a FIPS distribution runs with: its
// config/jvm.options.d/fips.options, which the nodes' config directories copy.
func (d *Distribution) JVMOptions(t testing.TB) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(d.Home, "config", "jvm.options.d", "fips.options"))
	if err != nil {
		t.Fatalf("realtest: %s is not a FIPS distribution: %v", d.Home, err)
	}
	defer f.Close()
	var opts []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			opts = append(opts, line)
		}
	}
	return opts
}

// Providers asks the distribution's FIPS JVM (its JDK, the BouncyCastle jars in lib/,
// the nodes' JVM options) which provider serves each service ("KeyStore.PKCS12",
// "SecretKeyFactory.PBKDF2WithHmacSHA512"): what Elasticsearch's getInstance calls get
// there. "none" when no provider has it.
func (d *Distribution) Providers(t testing.TB, services ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "FIPSProviders.java")
	if err := os.WriteFile(src, fipsProvidersSource, 0o600); err != nil {
		t.Fatal(err)
	}
	jars, _ := filepath.Glob(filepath.Join(d.Home, "lib", "bc*-fips-*.jar"))
	if len(jars) == 0 {
		t.Fatalf("realtest: no BouncyCastle FIPS jars in %s/lib", d.Home)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	args := append(d.JVMOptions(t), "-cp", strings.Join(jars, ":"), src)
	cmd := exec.CommandContext(ctx, filepath.Join(d.JavaHome, "bin", "java"), append(args, services...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("realtest: java FIPSProviders: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if service, provider, ok := strings.Cut(line, " "); ok {
			got[service] = provider
		}
	}
	return got
}
