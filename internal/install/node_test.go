package install_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/install"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/spec"
	"github.com/escert/escert/internal/treestate"
)

var fixedNow = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// nodeBundle bootstraps a one-node cluster and returns DIR/nodes/node1.
func nodeBundle(t testing.TB, format bundle.Format) string {
	t.Helper()
	return filepath.Join(bootstrapOut(t, format, 1), "nodes", "node1")
}

// bootstrapOut bootstraps a cluster of nodes node1..nodeN and returns its output
// directory DIR (DIR/manifest.json, DIR/nodes/<name>).
func bootstrapOut(t testing.TB, format bundle.Format, nodes int) string {
	t.Helper()
	opts := bundle.Options{
		Format: format, Key: fips.DefaultKey, Policy: fips.Policy{},
		Spec:            spec.Options{ClusterName: "prod", TrustRestrictions: true, Localhost: true, Days: 365},
		KeystoreVersion: eskeystore.DefaultVersion, TransportVerification: "certificate",
		Rand: rand.Reader, Now: func() time.Time { return fixedNow }, Version: "test",
	}
	yml := "instances:\n"
	for i := 1; i <= nodes; i++ {
		yml += fmt.Sprintf("  - name: node%d\n    dns: [node%d.example.com]\n", i, i)
	}
	instances, err := spec.ParseInstances("i.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	local, err := issuer.NewLocal(rand.Reader, opts.Policy, opts.Key, "prod", 3650, false, opts.Now)
	if err != nil {
		t.Fatal(err)
	}
	res, err := bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: instances, BootstrapPassword: "bootstrap-pw"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := (atomicfs.Writer{}).WriteTree(dir, res.Files, false, fixedNow); err != nil {
		t.Fatal(err)
	}
	return dir
}

// configDir makes a config directory holding yml and, when given, a keystore.
func configDir(t testing.TB, yml string, keystore []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "config")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", yml))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "elasticsearch.yml"), data, 0o660); err != nil {
		t.Fatal(err)
	}
	if keystore != nil {
		if err := os.WriteFile(filepath.Join(dir, "elasticsearch.keystore"), keystore, 0o660); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func options(bundleDir, config string) install.NodeOptions {
	return install.NodeOptions{BundleDir: bundleDir, ConfigDir: config, Audit: true, Now: fixedNow, Rand: rand.Reader}
}

func apply(t testing.TB, o install.NodeOptions) *install.Plan {
	t.Helper()
	plan, err := install.PlanNode(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Apply(o.Owner); err != nil {
		t.Fatal(err)
	}
	return plan
}

// checkLoadable asserts what Elasticsearch needs to start: the yml parses, the
// keystore decrypts, and every p12 the yml names opens with the keystore's password
// and holds a key matching its certificate.
func checkLoadable(t testing.TB, config string, password []byte) esconfig.Settings {
	t.Helper()
	yml, err := os.ReadFile(filepath.Join(config, "elasticsearch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	settings, err := esconfig.Parse(yml)
	if err != nil {
		t.Fatalf("elasticsearch.yml does not parse: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(config, "elasticsearch.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := eskeystore.Decode(data, password)
	if err != nil {
		t.Fatalf("keystore: %v", err)
	}
	for _, layer := range []string{"transport", "http"} {
		path, ok := settings.Get("xpack.security." + layer + ".ssl.keystore.path")
		if !ok {
			continue
		}
		pw, _ := ks.Get("xpack.security." + layer + ".ssl.keystore.secure_password")
		raw, err := os.ReadFile(filepath.Join(config, path))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		c, err := p12.Decode(raw, string(pw))
		if err != nil {
			t.Fatalf("%s does not open with the keystore's password: %v", path, err)
		}
		if err := ca.KeyMatches(c.Keys[0].Chain[0], c.Keys[0].Key.(crypto.Signer)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return settings
}

func TestInstallIntoDefaultConfigKeepsEveryByteOutsideTheBlock(t *testing.T) {
	b := nodeBundle(t, bundle.P12)
	config := configDir(t, "elasticsearch-default.yml", nil)
	before, _ := os.ReadFile(filepath.Join(config, "elasticsearch.yml"))
	apply(t, options(b, config))
	after, _ := os.ReadFile(filepath.Join(config, "elasticsearch.yml"))
	if !bytes.HasPrefix(after, before) {
		t.Fatal("the original elasticsearch.yml is not kept byte for byte")
	}
	settings := checkLoadable(t, config, nil)
	for key, want := range map[string]string{"xpack.security.enabled": "true", "xpack.security.audit.enabled": "true", "path.data": "/var/lib/elasticsearch"} {
		if got, _ := settings.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if _, set := settings["xpack.security.enrollment.enabled"]; set {
		t.Error("enrollment was enabled without being asked for")
	}
	// A second run with the same bundle changes nothing.
	plan, err := install.PlanNode(options(b, config))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 0 {
		t.Errorf("re-run would change %d file(s): %v", len(plan.Changes), plan.Changes[0].Path)
	}
}

func TestReinstallReplacesTheBlockNeverAddsASecondOne(t *testing.T) {
	config := configDir(t, "elasticsearch-default.yml", nil)
	apply(t, options(nodeBundle(t, bundle.P12), config))
	o := options(nodeBundle(t, bundle.PEM), config)
	o.Enrollment = true
	apply(t, o)
	yml, _ := os.ReadFile(filepath.Join(config, "elasticsearch.yml"))
	if n := strings.Count(string(yml), esconfig.BlockBegin); n != 1 {
		t.Fatalf("%d escert blocks", n)
	}
	settings, err := esconfig.Parse(yml)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := settings.Get("xpack.security.transport.ssl.key"); v != "certs/transport.key" {
		t.Errorf("PEM block not in place: transport.ssl.key = %q", v)
	}
	if v, _ := settings.Get("xpack.security.enrollment.enabled"); v != "true" {
		t.Error("--enrollment did not enable enrollment")
	}
}

func TestConflictingSettingsStopTheRunUnlessForced(t *testing.T) {
	b := nodeBundle(t, bundle.P12)
	config := configDir(t, "elasticsearch-autoconfigured.yml", nil)
	before, _ := os.ReadFile(filepath.Join(config, "elasticsearch.yml"))
	_, err := install.PlanNode(options(b, config))
	var conflict *install.ConflictError
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), "xpack.security.http.ssl.keystore.path (line 99)") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("err = %v, want a conflict naming the settings and --force", err)
	}
	o := options(b, config)
	o.Force = true
	plan := apply(t, o)
	commented := 0
	for _, n := range plan.Notes {
		if strings.HasPrefix(n, "elasticsearch.yml: commented out") {
			commented++
		}
	}
	if commented != 3 {
		t.Errorf("notes = %v, want one per commented-out entry", plan.Notes)
	}
	after, _ := os.ReadFile(filepath.Join(config, "elasticsearch.yml"))
	settings := checkLoadable(t, config, nil)
	if v, _ := settings.Get("xpack.security.enrollment.enabled"); v != "true" {
		t.Error("a setting escert does not manage was lost")
	}
	if !strings.Contains(string(after), "#xpack.security.http.ssl:\n#  enabled: true\n#  keystore.path: certs/http.p12\n") {
		t.Error("auto-configuration's nested http.ssl entry is not commented out whole")
	}
	// Lines escert does not touch are kept in order, byte for byte.
	kept := strings.Split(string(before), "\n")[:80]
	if !strings.HasPrefix(string(after), strings.Join(kept, "\n")) {
		t.Error("lines before the conflicts changed")
	}
}

func TestForceRefusesANestedEntryMixingOursAndOthers(t *testing.T) {
	config := configDir(t, "elasticsearch-default.yml", nil)
	yml := filepath.Join(config, "elasticsearch.yml")
	os.WriteFile(yml, []byte("xpack:\n  security:\n    enabled: true\n  ml.enabled: false\n"), 0o660)
	o := options(nodeBundle(t, bundle.P12), config)
	o.Force = true
	_, err := install.PlanNode(o)
	if err == nil || !strings.Contains(err.Error(), "edit it by hand") {
		t.Fatalf("err = %v", err)
	}
}

func TestKeystoreMergeKeepsEntriesPasswordAndVersion(t *testing.T) {
	for _, version := range []int{4, 5, 6} {
		for _, password := range [][]byte{nil, []byte("an existing keystore password")} {
			ks, err := eskeystore.New(version, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			ks.Set("s3.client.default.secret_key", []byte("s3-secret"))
			data, err := ks.Encode(password, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			seed, _ := ks.Get("keystore.seed")
			config := configDir(t, "elasticsearch-default.yml", data)
			o := options(nodeBundle(t, bundle.P12), config)
			o.KeystorePassword = password
			apply(t, o)
			merged, _ := os.ReadFile(filepath.Join(config, "elasticsearch.keystore"))
			got, err := eskeystore.Decode(merged, password)
			if err != nil {
				t.Fatalf("v%d: %v", version, err)
			}
			if got.Version != version {
				t.Errorf("version %d became %d", version, got.Version)
			}
			if v, _ := got.Get("s3.client.default.secret_key"); string(v) != "s3-secret" {
				t.Errorf("v%d: the existing entry was lost", version)
			}
			if v, _ := got.Get("keystore.seed"); !bytes.Equal(v, seed) {
				t.Errorf("v%d: keystore.seed changed", version)
			}
			if has, _ := eskeystore.HasPassword(merged); has != (password != nil) {
				t.Errorf("v%d: password protection changed", version)
			}
			checkLoadable(t, config, password)
		}
	}
}

func TestNewBundleBacksUpAndKeepsTheNodesP12Password(t *testing.T) {
	config := configDir(t, "elasticsearch-default.yml", nil)
	apply(t, options(nodeBundle(t, bundle.P12), config))
	ksBefore, _ := os.ReadFile(filepath.Join(config, "elasticsearch.keystore"))
	p12Before, _ := os.ReadFile(filepath.Join(config, "certs", "http.p12"))

	plan := apply(t, options(nodeBundle(t, bundle.P12), config))
	checkLoadable(t, config, nil)
	// The passwords stay: Elasticsearch hot-reloads files, not passwords.
	before, _ := eskeystore.Decode(ksBefore, nil)
	ksAfter, _ := os.ReadFile(filepath.Join(config, "elasticsearch.keystore"))
	after, _ := eskeystore.Decode(ksAfter, nil)
	for _, name := range []string{"xpack.security.http.ssl.keystore.secure_password", "xpack.security.transport.ssl.keystore.secure_password"} {
		a, _ := before.Get(name)
		b, _ := after.Get(name)
		if !bytes.Equal(a, b) {
			t.Errorf("%s changed: the node would need a restart", name)
		}
	}
	backups, _ := filepath.Glob(filepath.Join(config, "escert-backups", "*", "certs", "http.p12"))
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	if old, _ := os.ReadFile(backups[0]); !bytes.Equal(old, p12Before) {
		t.Error("the backup is not the replaced file")
	}
	if len(plan.Changes) == 0 {
		t.Error("a new bundle changed nothing")
	}
}

func TestInstallRefusesUnsafeConfigDirectories(t *testing.T) {
	b := nodeBundle(t, bundle.P12)
	cases := []struct {
		name  string
		setup func(config string)
		want  string
	}{
		{"world-writable directory", func(c string) { os.Chmod(c, 0o777) }, "world-writable"},
		{"world-readable keystore", func(c string) {
			os.WriteFile(filepath.Join(c, "elasticsearch.keystore"), []byte("x"), 0o644)
			os.Chmod(filepath.Join(c, "elasticsearch.keystore"), 0o644)
		}, "world-readable"},
		{"missing directory", func(c string) { os.RemoveAll(c) }, "not a readable config directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config := configDir(t, "elasticsearch-default.yml", nil)
			tc.setup(config)
			_, err := install.PlanNode(options(b, config))
			var in *fault.InputError
			if !errors.As(err, &in) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an InputError saying %q", err, tc.want)
			}
		})
	}
}

func TestDiffShowsTextChangesAndHidesSecrets(t *testing.T) {
	config := configDir(t, "elasticsearch-default.yml", nil)
	plan, err := install.PlanNode(options(nodeBundle(t, bundle.PEM), config))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	plan.Diff(&out)
	if !strings.Contains(out.String(), "+xpack.security.enabled: true") || !strings.Contains(out.String(), "--- a/elasticsearch.yml") {
		t.Errorf("diff lacks the yml change:\n%s", out.String())
	}
	if strings.Contains(out.String(), "PRIVATE KEY") {
		t.Error("diff shows a private key")
	}
	if entries, _ := os.ReadDir(config); len(entries) != 1 {
		t.Errorf("planning wrote files: %v", entries)
	}
}

// TestOwnersAndModesAsRoot gives the files to root and the elasticsearch user's group,
// as a real install does: it needs root, and then the user, which .ci/run creates
// (useradd --system elasticsearch) as Elasticsearch's packages do.
func TestOwnersAndModesAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files to root and another group needs root")
	}
	u, err := user.Lookup("elasticsearch")
	if err != nil {
		t.Fatalf("running as root, but no elasticsearch user to give the files to (%v): create it with useradd --system elasticsearch, as .ci/run does", err)
	}
	gid, _ := strconv.Atoi(u.Gid)
	config := configDir(t, "elasticsearch-default.yml", nil)
	o := options(nodeBundle(t, bundle.P12), config)
	o.Owner = &install.Owner{UID: 0, GID: gid, Group: "elasticsearch"}
	apply(t, o)
	want := map[string]os.FileMode{
		"certs": 0o750 | os.ModeDir, "certs/transport.p12": 0o640, "certs/http.p12": 0o640,
		"certs/http-ca.crt": 0o644, "elasticsearch.keystore": 0o660,
	}
	for rel, mode := range want {
		info, err := os.Stat(filepath.Join(config, rel))
		if err != nil {
			t.Fatal(err)
		}
		st := info.Sys().(*syscall.Stat_t)
		if info.Mode() != mode || st.Uid != 0 || int(st.Gid) != gid {
			t.Errorf("%s: %v %d:%d, want %v 0:%d", rel, info.Mode(), st.Uid, st.Gid, mode, gid)
		}
	}
}

// TestKeystoreIsWrittenInTheNodesFormat: with the node's version known, install
// upgrades an older keystore (and creates a new one) in the format the node reads,
// since a node that cannot rewrite its keystore refuses to start with an older one;
// a keystore newer than the given version reads is refused; unknown, the format is
// kept, and a keystore created in an older format is announced.
func TestKeystoreIsWrittenInTheNodesFormat(t *testing.T) {
	tests := []struct {
		name     string
		existing int // 0: no keystore yet
		node     int // NodeOptions.KeystoreVersion
		want     int // 0: refused
		note     bool
	}{
		{"upgrade 6 to 7", 6, 7, 7, false},
		{"upgrade 5 to 6", 5, 6, 6, false},
		{"same format", 7, 7, 7, false},
		{"create in the node's format", 0, 7, 7, false},
		{"unknown version keeps the format", 6, 0, 6, false},
		{"unknown version creates the bundle's format and says so", 0, 0, eskeystore.DefaultVersion, true},
		{"newer than the node reads", 7, 6, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data []byte
			if tt.existing > 0 {
				ks, err := eskeystore.New(tt.existing, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				if data, err = ks.Encode(nil, rand.Reader); err != nil {
					t.Fatal(err)
				}
			}
			config := configDir(t, "elasticsearch-default.yml", data)
			o := options(nodeBundle(t, bundle.P12), config)
			o.KeystoreVersion = tt.node
			plan, err := install.PlanNode(o)
			if tt.want == 0 {
				var in *fault.InputError
				if !errors.As(err, &in) || !strings.Contains(err.Error(), "--es-version") {
					t.Fatalf("err = %v, want an InputError naming --es-version", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := plan.Apply(nil); err != nil {
				t.Fatal(err)
			}
			written, _ := os.ReadFile(filepath.Join(config, "elasticsearch.keystore"))
			ks, err := eskeystore.Decode(written, nil)
			if err != nil || ks.Version != tt.want {
				t.Fatalf("keystore format %v (%v), want %d", ks, err, tt.want)
			}
			noted := strings.Contains(strings.Join(plan.Notes, "\n"), "give --es-version")
			if noted != tt.note {
				t.Errorf("note about --es-version: %v, want %v (%q)", noted, tt.note, plan.Notes)
			}
		})
	}
}

// bundleSecret is a secure setting of a bundle's elasticsearch.keystore.
func bundleSecret(t *testing.T, bundleDir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundleDir, "elasticsearch.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := eskeystore.Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ks.Get(name)
	return string(v)
}

// openBundleP12 decodes a bundle's <layer>.p12 with the password its keystore holds.
func openBundleP12(t *testing.T, bundleDir, layer string) *p12.Contents {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundleDir, "certs", layer+".p12"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := p12.Decode(data, bundleSecret(t, bundleDir, "xpack.security."+layer+".ssl.keystore.secure_password"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeP12 writes a PKCS#12 file into a bundle's certs/, as escert lays one out.
func writeP12(t *testing.T, bundleDir, layer, password string, key p12.KeyEntry, trusted []p12.TrustedCert) {
	t.Helper()
	data, err := p12.Encode(rand.Reader, password, &key, trusted)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundleDir, "certs", layer+".p12"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func transportPassword(t *testing.T, bundleDir string) string {
	return bundleSecret(t, bundleDir, "xpack.security.transport.ssl.keystore.secure_password")
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// editBundleYML replaces old, which must be there, with new in a bundle's
// elasticsearch.yml.
func editBundleYML(t *testing.T, bundleDir, old, new string) {
	t.Helper()
	path := filepath.Join(bundleDir, "elasticsearch.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestInstallRefusesAnUnusableBundleNamingTheFile: a bundle whose files the node could
// not start with, or that are another node's, is refused before anything is written,
// as bad input naming the bundle's file, and the config directory stays as it was.
func TestInstallRefusesAnUnusableBundleNamingTheFile(t *testing.T) {
	// Read-only sources, copied per case: a two-node cluster of each format, and a
	// cluster of another CA whose node1 has this cluster's names.
	sources := map[bundle.Format]string{bundle.P12: bootstrapOut(t, bundle.P12, 2), bundle.PEM: bootstrapOut(t, bundle.PEM, 2)}
	foreign := map[bundle.Format]string{bundle.P12: bootstrapOut(t, bundle.P12, 1), bundle.PEM: bootstrapOut(t, bundle.PEM, 1)}
	node := func(out, name string) string { return filepath.Join(out, "nodes", name) }
	tests := []struct {
		name   string
		format bundle.Format
		// breaks the bundle b (DIR/nodes/node1 of a copy of the source) and returns
		// the directory to install, b itself unless the bundle moves out of DIR.
		breaks func(t *testing.T, b string) string
		file   string // the bundle file the error names, relative to the installed bundle
		want   string
	}{
		{"garbage p12", bundle.P12, func(t *testing.T, b string) string {
			os.WriteFile(filepath.Join(b, "certs", "transport.p12"), []byte("this is not a PKCS#12 file\n"), 0o600)
			return b
		}, "certs/transport.p12", "not a usable PKCS#12 file"},
		{"truncated p12", bundle.P12, func(t *testing.T, b string) string {
			data, _ := os.ReadFile(filepath.Join(b, "certs", "http.p12"))
			os.WriteFile(filepath.Join(b, "certs", "http.p12"), data[:len(data)/2], 0o600)
			return b
		}, "certs/http.p12", "not a usable PKCS#12 file"},
		{"missing p12", bundle.P12, func(t *testing.T, b string) string {
			os.Remove(filepath.Join(b, "certs", "transport.p12"))
			return b
		}, "certs/transport.p12", "missing, though the bundle's elasticsearch.yml names it (xpack.security.transport.ssl.keystore.path)"},
		{"empty p12", bundle.P12, func(t *testing.T, b string) string {
			os.WriteFile(filepath.Join(b, "certs", "http.p12"), nil, 0o600)
			return b
		}, "certs/http.p12", "is empty"},
		{"endless device as p12", bundle.P12, func(t *testing.T, b string) string {
			os.Remove(filepath.Join(b, "certs", "http.p12"))
			if err := os.Symlink("/dev/zero", filepath.Join(b, "certs", "http.p12")); err != nil {
				t.Skip(err)
			}
			return b
		}, "certs/http.p12", "larger than a PKCS#12 file can be"},
		{"p12 under another password", bundle.P12, func(t *testing.T, b string) string {
			c := openBundleP12(t, b, "transport")
			writeP12(t, b, "transport", "not the keystore's password", c.Keys[0], c.Trusted)
			return b
		}, "certs/transport.p12", "does not open with the password the bundle's elasticsearch.keystore holds (xpack.security.transport.ssl.keystore.secure_password)"},
		{"another node's p12 as it is", bundle.P12, func(t *testing.T, b string) string {
			copyFile(t, filepath.Join(b, "..", "node2", "certs", "transport.p12"), filepath.Join(b, "certs", "transport.p12"))
			return b
		}, "certs/transport.p12", "does not open with the password"},
		{"another node's p12 under this bundle's password", bundle.P12, func(t *testing.T, b string) string {
			other := openBundleP12(t, filepath.Join(b, "..", "node2"), "transport")
			writeP12(t, b, "transport", transportPassword(t, b), other.Keys[0], other.Trusted)
			return b
		}, "certs/transport.p12", "/manifest.json records for this node"},
		{"another node's p12 in a bundle copied out of its bootstrap", bundle.P12, func(t *testing.T, b string) string {
			other := openBundleP12(t, filepath.Join(b, "..", "node2"), "transport")
			writeP12(t, b, "transport", transportPassword(t, b), other.Keys[0], other.Trusted)
			alone := filepath.Join(t.TempDir(), "node1")
			copyTree(t, b, alone)
			return alone
		}, "certs/transport.p12", `its certificate is for "node2" but http.p12's is for "node1"`},
		{"p12 chain not to the bundle's CA", bundle.P12, func(t *testing.T, b string) string {
			alien := openBundleP12(t, node(foreign[bundle.P12], "node1"), "transport")
			writeP12(t, b, "transport", transportPassword(t, b), alien.Keys[0], openBundleP12(t, b, "transport").Trusted)
			return b
		}, "certs/transport.p12", "was not issued by the bundle's CA in transport-ca.crt"},
		{"p12 without the trusted entry", bundle.P12, func(t *testing.T, b string) string {
			c := openBundleP12(t, b, "transport")
			writeP12(t, b, "transport", transportPassword(t, b), c.Keys[0], nil)
			return b
		}, "certs/transport.p12", "has no trusted entry for the CA"},
		{"missing CA file", bundle.P12, func(t *testing.T, b string) string {
			os.Remove(filepath.Join(b, "certs", "http-ca.crt"))
			return b
		}, "certs/http-ca.crt", "missing"},
		{"garbage trust restrictions", bundle.P12, func(t *testing.T, b string) string {
			os.WriteFile(filepath.Join(b, "certs", "transport-trust.yml"), []byte("{{{\n"), 0o644)
			return b
		}, "certs/transport-trust.yml", "is not a trust restrictions file"},
		{"PEM key not matching its certificate", bundle.PEM, func(t *testing.T, b string) string {
			key, err := ca.GenerateKey(rand.Reader, fips.Policy{}, fips.DefaultKey)
			if err != nil {
				t.Fatal(err)
			}
			data, err := ca.MarshalKeyPEM(rand.Reader, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(b, "certs", "http.key"), data, 0o600)
			return b
		}, "certs/http.key", "the private key does not match the certificate"},
		{"PEM chain not to the bundle's CA", bundle.PEM, func(t *testing.T, b string) string {
			for _, f := range []string{"transport.crt", "transport.key"} {
				copyFile(t, filepath.Join(node(foreign[bundle.PEM], "node1"), "certs", f), filepath.Join(b, "certs", f))
			}
			return b
		}, "certs/transport.crt", "was not issued by the bundle's CA in transport-ca.crt"},
		{"another node's PEM files", bundle.PEM, func(t *testing.T, b string) string {
			for _, f := range []string{"transport.crt", "transport.key"} {
				copyFile(t, filepath.Join(b, "..", "node2", "certs", f), filepath.Join(b, "certs", f))
			}
			return b
		}, "certs/transport.crt", "/manifest.json records for this node"},
		{"missing PEM key", bundle.PEM, func(t *testing.T, b string) string {
			os.Remove(filepath.Join(b, "certs", "transport.key"))
			return b
		}, "certs/transport.key", "missing, though the bundle's elasticsearch.yml names it (xpack.security.transport.ssl.key)"},
		{"garbage PEM certificate", bundle.PEM, func(t *testing.T, b string) string {
			os.WriteFile(filepath.Join(b, "certs", "http.crt"), []byte("garbage\n"), 0o644)
			return b
		}, "certs/http.crt", "holds no usable certificate"},
		{"PEM certificate without its key setting", bundle.PEM, func(t *testing.T, b string) string {
			editBundleYML(t, b, "xpack.security.http.ssl.key: certs/http.key\n", "")
			return b
		}, "elasticsearch.yml", "names the certificate certs/http.crt (xpack.security.http.ssl.certificate) but no key (xpack.security.http.ssl.key)"},
		{"p12 password as plaintext in the block, not in the keystore", bundle.P12, func(t *testing.T, b string) string {
			const secure = "xpack.security.transport.ssl.keystore.secure_password"
			password := transportPassword(t, b)
			path := filepath.Join(b, "elasticsearch.keystore")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ks, err := eskeystore.Decode(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			ks.Remove(secure)
			if data, err = ks.Encode(nil, rand.Reader); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(path, data, 0o600)
			editBundleYML(t, b, "xpack.security.transport.ssl.keystore.path: certs/transport.p12\n",
				"xpack.security.transport.ssl.keystore.path: certs/transport.p12\nxpack.security.transport.ssl.keystore.password: "+password+"\n")
			return b
		}, "elasticsearch.keystore", "holds no xpack.security.transport.ssl.keystore.secure_password, so Elasticsearch cannot open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			copyTree(t, sources[tt.format], out)
			b := tt.breaks(t, node(out, "node1"))
			config := configDir(t, "elasticsearch-default.yml", nil)
			before := treestate.Of(t, config)
			plan, err := install.PlanNode(options(b, config))
			if err == nil {
				plan.Apply(nil)
				t.Fatal("the broken bundle was installed")
			}
			var in *fault.InputError
			if !errors.As(err, &in) && !errors.Is(err, infile.ErrTooLarge) {
				t.Errorf("err = %T %v, want bad input (exit 3)", err, err)
			}
			file := filepath.Join(b, filepath.FromSlash(tt.file))
			if !strings.HasPrefix(err.Error(), file+": ") || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q, want one line naming %s and saying %q", err, file, tt.want)
			}
			if after := treestate.Of(t, config); !maps.Equal(before, after) {
				t.Error("the config directory changed")
			}
		})
	}
}

// TestForceTakesPlaintextTLSPasswordsOutOfTheYml: a plaintext TLS password that
// --force comments out leaves no trace in the config directory outside its backups.
// One the bundle replaces with its own secure setting is dropped; any other moves into
// elasticsearch.keystore as its secure_ setting, unless the keystore already holds
// that setting (Elasticsearch refuses to start with both), which is then kept.
func TestForceTakesPlaintextTLSPasswordsOutOfTheYml(t *testing.T) {
	const yml = "cluster.name: prod\n" +
		"xpack.security.http.ssl:\n" +
		"  enabled: true\n" +
		"  keystore.path: certs/http.p12\n" +
		"  keystore.password: http-store-secret\n" +
		"xpack.security.http.ssl.truststore.password: \"http-trust-secret\"\n" +
		"xpack.security.transport.ssl.keystore.password: transport-store-secret\n" +
		"xpack.security.transport.ssl.keystore.key_password: transport-key-secret\n"
	secrets := []string{"http-store-secret", "http-trust-secret", "transport-store-secret", "transport-key-secret"}
	tests := []struct {
		name   string
		format bundle.Format
		held   map[string]string // already in the node's keystore
		want   map[string]string // keystore setting to value; "" must be absent
	}{
		{"p12 bundle: its own passwords replace the store passwords, the rest moves", bundle.P12, nil, map[string]string{
			"xpack.security.http.ssl.truststore.secure_password":        "http-trust-secret",
			"xpack.security.http.ssl.keystore.secure_password":          "bundle",
			"xpack.security.transport.ssl.keystore.secure_password":     "bundle",
			"xpack.security.transport.ssl.keystore.secure_key_password": "",
		}},
		{"PEM bundle: it brings no password, so every one moves", bundle.PEM, nil, map[string]string{
			"xpack.security.http.ssl.keystore.secure_password":          "http-store-secret",
			"xpack.security.http.ssl.truststore.secure_password":        "http-trust-secret",
			"xpack.security.transport.ssl.keystore.secure_password":     "transport-store-secret",
			"xpack.security.transport.ssl.keystore.secure_key_password": "transport-key-secret",
		}},
		{"a secure setting the node's keystore holds is kept", bundle.PEM, map[string]string{"xpack.security.http.ssl.truststore.secure_password": "kept"}, map[string]string{
			"xpack.security.http.ssl.truststore.secure_password": "kept",
			"xpack.security.http.ssl.keystore.secure_password":   "http-store-secret",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var keystore []byte
			if tt.held != nil {
				ks, err := eskeystore.New(eskeystore.DefaultVersion, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range tt.held {
					ks.Set(k, []byte(v))
				}
				if keystore, err = ks.Encode(nil, rand.Reader); err != nil {
					t.Fatal(err)
				}
			}
			config := configDir(t, "elasticsearch-default.yml", keystore)
			if err := os.WriteFile(filepath.Join(config, "elasticsearch.yml"), []byte(yml), 0o660); err != nil {
				t.Fatal(err)
			}
			b := nodeBundle(t, tt.format)
			o := options(b, config)
			o.Force = true
			plan := apply(t, o)
			err := filepath.WalkDir(config, func(p string, d os.DirEntry, err error) error {
				switch {
				case err != nil:
					return err
				case d.IsDir() && d.Name() == "escert-backups":
					return filepath.SkipDir
				case d.IsDir():
					return nil
				}
				data, _ := os.ReadFile(p)
				for _, s := range secrets {
					if bytes.Contains(data, []byte(s)) {
						t.Errorf("%s still holds %s", p, s)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(filepath.Join(config, "elasticsearch.yml"))
			if !strings.Contains(string(after), "# escert: removed xpack.security.") && tt.format == bundle.P12 ||
				!strings.Contains(string(after), "# escert: moved xpack.security.http.ssl.") {
				t.Errorf("the yml does not say where the passwords went:\n%s", after)
			}
			data, _ := os.ReadFile(filepath.Join(config, "elasticsearch.keystore"))
			ks, err := eskeystore.Decode(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				got, has := ks.Get(name)
				if want == "bundle" {
					want = bundleSecret(t, b, name)
				}
				if want == "" && has || want != "" && string(got) != want {
					t.Errorf("keystore %s = %q (set: %v), want %q", name, got, has, want)
				}
			}
			if tt.format == bundle.P12 {
				checkLoadable(t, config, nil)
			}
			if len(plan.Notes) == 0 {
				t.Error("no note says what happened to the passwords")
			}
			again, err := install.PlanNode(o)
			if err != nil || len(again.Changes) != 0 {
				t.Errorf("a re-run would change %v (%v)", again, err)
			}
		})
	}
}

// TestForceRefusesAPasswordItCannotRemoveLineByLine: a password written as a block
// scalar does not sit on its key's line; commenting out the key would leave the value
// in the file, so the run stops, naming the setting but not the value.
func TestForceRefusesAPasswordItCannotRemoveLineByLine(t *testing.T) {
	config := configDir(t, "elasticsearch-default.yml", nil)
	yml := "xpack.security.http.ssl.keystore.password: |\n  block-scalar-secret\n"
	if err := os.WriteFile(filepath.Join(config, "elasticsearch.yml"), []byte(yml), 0o660); err != nil {
		t.Fatal(err)
	}
	before := treestate.Of(t, config)
	o := options(nodeBundle(t, bundle.P12), config)
	o.Force = true
	_, err := install.PlanNode(o)
	var in *fault.InputError
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "line 1: the password in xpack.security.http.ssl.keystore.password does not sit on its key's line") || strings.Contains(err.Error(), "block-scalar-secret") {
		t.Fatalf("err = %v, want an InputError naming the line and setting, without the value", err)
	}
	if after := treestate.Of(t, config); !maps.Equal(before, after) {
		t.Error("the config directory changed")
	}
}

// TestInstallChecksARelativeBundleAgainstItsManifest: run from inside the bundle
// (--bundle .), the bootstrap's manifest still names the certificate that belongs
// there.
func TestInstallChecksARelativeBundleAgainstItsManifest(t *testing.T) {
	out := bootstrapOut(t, bundle.PEM, 2)
	b := filepath.Join(out, "nodes", "node1")
	for _, f := range []string{"transport.crt", "transport.key"} {
		copyFile(t, filepath.Join(out, "nodes", "node2", "certs", f), filepath.Join(b, "certs", f))
	}
	config := configDir(t, "elasticsearch-default.yml", nil)
	t.Chdir(b)
	_, err := install.PlanNode(options(".", config))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(out, "manifest.json")+" records for this node") {
		t.Fatalf("err = %v, want the manifest's record named", err)
	}
}

// TestSettingTheBlockSetsAlikeMovesIntoTheBlockWithoutForce: a setting outside the TLS
// layers with the block's own value (as Elastic's FIPS page has operators write
// fips_mode and autoconfiguration lines) is commented out without --force, since the
// block keeps its value and two of one key would stop the node; the same key with
// another value still stops the run.
func TestSettingTheBlockSetsAlikeMovesIntoTheBlockWithoutForce(t *testing.T) {
	b := nodeBundle(t, bundle.P12)
	for _, tc := range []struct {
		line     string
		conflict bool
	}{
		{"xpack.security.enabled: true\n", false},
		{"xpack.security.enabled: false\n", true},
	} {
		config := configDir(t, "elasticsearch-default.yml", nil)
		yml := filepath.Join(config, "elasticsearch.yml")
		f, _ := os.OpenFile(yml, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(tc.line)
		f.Close()
		_, err := install.PlanNode(options(b, config))
		var conflict *install.ConflictError
		if tc.conflict {
			if !errors.As(err, &conflict) {
				t.Errorf("%q: err = %v, want a conflict", tc.line, err)
			}
			continue
		}
		plan := apply(t, options(b, config))
		after, _ := os.ReadFile(yml)
		if !strings.Contains(string(after), "escert's block sets the same value\n#"+tc.line) {
			t.Errorf("%q was not commented out with its reason:\n%s", tc.line, after)
		}
		if !slices.ContainsFunc(plan.Notes, func(n string) bool {
			return strings.HasPrefix(n, "elasticsearch.yml: commented out xpack.security.enabled")
		}) {
			t.Errorf("notes = %v", plan.Notes)
		}
		if v, _ := checkLoadable(t, config, nil).Get("xpack.security.enabled"); v != "true" {
			t.Errorf("xpack.security.enabled = %q after the move", v)
		}
	}
}
