package rotate_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/install"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/rotate"
	"github.com/escert/escert/internal/spec"
	"github.com/escert/escert/internal/target"
)

// issued is the day the test cluster's certificates were made; tests move the clock
// forward from it instead of waiting.
var issued = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

type node struct {
	config string
	local  *issuer.Local
}

// installedNode bootstraps a one-node cluster at issued (leaves for days, CAs for
// caDays) and installs it into a fresh config directory.
func installedNode(t *testing.T, format bundle.Format, days, caDays int) node {
	t.Helper()
	return installedNodeOf(t, target.Elasticsearch, format, days, caDays)
}

// installedNodeOf is installedNode for a node of engine.
func installedNodeOf(t *testing.T, engine target.Target, format bundle.Format, days, caDays int) node {
	t.Helper()
	now := func() time.Time { return issued }
	local, err := issuer.NewLocal(rand.Reader, fips.Policy{}, fips.DefaultKey, "prod", caDays, false, now)
	if err != nil {
		t.Fatal(err)
	}
	instances, _ := spec.ParseInstances("i.yml", []byte("instances:\n  - name: \"CN=node1,OU=search,DC=example,DC=com\"\n    dns: [node1.example.com]\n    ip: [192.0.2.1]\n"))
	opts := bundle.Options{
		Format: format, Key: fips.DefaultKey, Policy: fips.Policy{},
		Spec:            spec.Options{ClusterName: "prod", TrustRestrictions: true, Localhost: true, Days: days},
		KeystoreVersion: eskeystore.DefaultVersion, TransportVerification: "certificate",
		Rand: rand.Reader, Now: now, Version: "test",
		Target: engine, OpenSearchVersion: esconfig.Version{Major: 2, Minor: 19},
	}
	res, err := bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: instances}, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := (atomicfs.Writer{}).WriteTree(filepath.Join(dir, "bundle"), res.Files, false, issued); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config")
	os.Mkdir(config, 0o750)
	os.WriteFile(filepath.Join(config, engine.SettingsFile()), []byte("path.data: /var/lib/data\n"), 0o660)
	os.Mkdir(filepath.Join(config, "opensearch-security"), 0o750) // the plugin's, which install needs on OpenSearch
	plan, err := install.PlanNode(install.NodeOptions{BundleDir: filepath.Join(dir, "bundle", "nodes", "node1"), ConfigDir: config, Now: issued, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Apply(nil); err != nil {
		t.Fatal(err)
	}
	return node{config: config, local: local}
}

func renewAt(t *testing.T, n node, now time.Time, w expiry.Window) ([]rotate.Renewed, []rotate.NodeCert, []rotate.NodeCert) {
	t.Helper()
	before, err := rotate.Discover(n.config, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.local.Now = func() time.Time { return now }
	renewed, _, err := rotate.Renew(context.Background(), before, rotate.Options{ConfigDir: n.config, Issuer: n.local, Policy: fips.Policy{}, Window: w, Rand: rand.Reader, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	after, err := rotate.Discover(n.config, nil)
	if err != nil {
		t.Fatal(err)
	}
	return renewed, before, after
}

func TestRenewKeepsNamesUsagesPasswordAliasAndTrust(t *testing.T) {
	for _, format := range []bundle.Format{bundle.P12, bundle.PEM} {
		t.Run(string(format), func(t *testing.T) {
			n := installedNode(t, format, 365, 3650)
			ksBefore, _ := os.ReadFile(filepath.Join(n.config, "elasticsearch.keystore"))
			now := issued.AddDate(0, 0, 350) // 15 days left
			renewed, before, after := renewAt(t, n, now, expiry.DefaultWindow)
			if len(renewed) != 2 {
				t.Fatalf("renewed %d certificates, want both layers", len(renewed))
			}
			for i := range before {
				old, fresh := before[i].Leaf(), after[i].Leaf()
				if string(old.RawSubject) != string(fresh.RawSubject) {
					t.Errorf("%s: subject %s became %s", before[i].Layer, old.Subject, fresh.Subject)
				}
				if strings.Join(old.DNSNames, ",") != strings.Join(fresh.DNSNames, ",") || len(old.IPAddresses) != len(fresh.IPAddresses) {
					t.Errorf("%s: names changed", before[i].Layer)
				}
				o1, _ := ca.OtherNames(old)
				o2, _ := ca.OtherNames(fresh)
				if strings.Join(o1, ",") != strings.Join(o2, ",") {
					t.Errorf("%s: otherNames %v became %v", before[i].Layer, o1, o2)
				}
				if len(old.ExtKeyUsage) != len(fresh.ExtKeyUsage) {
					t.Errorf("%s: usages changed", before[i].Layer)
				}
				if ca.KeyMatches(fresh, before[i].Key) == nil {
					t.Errorf("%s: the key was reused", before[i].Layer)
				}
				if want := now.AddDate(0, 0, 365); !fresh.NotAfter.Equal(want) {
					t.Errorf("%s: NotAfter %v, want %v (the original lifetime from now)", before[i].Layer, fresh.NotAfter, want)
				}
			}
			ksAfter, _ := os.ReadFile(filepath.Join(n.config, "elasticsearch.keystore"))
			if string(ksBefore) != string(ksAfter) {
				t.Error("the keystore changed: passwords must stay for a hot reload")
			}
			if format == bundle.P12 {
				data, _ := os.ReadFile(filepath.Join(n.config, "certs", "transport.p12"))
				ks, _ := eskeystore.Decode(ksAfter, nil)
				pw, _ := ks.Get("xpack.security.transport.ssl.keystore.secure_password")
				c, err := p12.Decode(data, string(pw))
				if err != nil || c.Keys[0].Alias != "transport" || len(c.Trusted) != 1 || c.Trusted[0].Alias != "transport_ca" {
					t.Errorf("the renewed p12 lost its alias or trusted entry: %+v, %v", c, err)
				}
			}
			if backups, _ := filepath.Glob(filepath.Join(n.config, "escert-backups", "*", "certs", "*")); len(backups) == 0 {
				t.Error("no backup of the replaced files")
			}
		})
	}
}

func TestNothingDueChangesNothing(t *testing.T) {
	n := installedNode(t, bundle.P12, 365, 3650)
	backups := func() []string { b, _ := filepath.Glob(filepath.Join(n.config, "escert-backups", "*")); return b }
	before := len(backups()) // the install's own backup of elasticsearch.yml
	renewed, _, _ := renewAt(t, n, issued.AddDate(0, 1, 0), expiry.DefaultWindow)
	if len(renewed) != 0 {
		t.Fatalf("renewed %d certificates a month after issuance", len(renewed))
	}
	if len(backups()) != before {
		t.Error("a run with nothing due made backups")
	}
}

func TestRenewCapsAtTheCA(t *testing.T) {
	// CA for 400 days, leaves for 365: renewing at day 350 would run past the CA,
	// which still has 50 days left, outside the 30-day window.
	n := installedNode(t, bundle.P12, 365, 400)
	renewed, _, after := renewAt(t, n, issued.AddDate(0, 0, 350), expiry.DefaultWindow)
	caEnd := n.local.CAs[spec.Transport].Cert.NotAfter
	if len(renewed) != 2 || !renewed[0].CappedAtCA || !after[0].Leaf().NotAfter.Equal(caEnd) {
		t.Fatalf("want both capped at the CA's expiry %v: %+v", caEnd, renewed)
	}
}

// A CA ending inside the renewal window cannot be renewed around: renewal still
// carries each certificate that ends sooner up to the CA's end, and then says so, so
// cron fails while the node keeps every day its CA allows.
func TestRenewWhenTheCAEndsInsideTheWindow(t *testing.T) {
	cases := []struct {
		name      string
		caDays    int // leaves live 365 days
		day       int // of the run, after issuance
		w         expiry.Window
		force     bool
		again     bool // a second run the same day
		wantFiles int  // renewed, each to the CA's end
	}{
		{"a leaf ending before the CA is carried to the CA's end", 380, 355, expiry.DefaultWindow, false, false, 2},
		{"a leaf already ending with the CA is left alone", 380, 355, expiry.DefaultWindow, false, true, 0},
		{"--force still gives it a new key, to the CA's end", 380, 355, expiry.DefaultWindow, true, true, 2},
		{"--at 2/3: the CA ends inside the last third of a leaf's life", 380, 300, expiry.Window{Fraction: 2.0 / 3}, false, false, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := installedNode(t, bundle.P12, 365, tc.caDays)
			now := issued.AddDate(0, 0, tc.day)
			n.local.Now = func() time.Time { return now }
			o := rotate.Options{ConfigDir: n.config, Issuer: n.local, Window: tc.w, Rand: rand.Reader, Now: now}
			renew := func(force bool) ([]rotate.Renewed, error) {
				certs, err := rotate.Discover(n.config, nil)
				if err != nil {
					t.Fatal(err)
				}
				o.Force = force
				renewed, _, err := rotate.Renew(context.Background(), certs, o)
				return renewed, err
			}
			if tc.again {
				if _, err := renew(false); !errors.Is(err, rotate.ErrCATooShort) {
					t.Fatalf("first run: %v", err)
				}
			}
			renewed, err := renew(tc.force)
			caEnd := n.local.CAs[spec.Transport].Cert.NotAfter
			var expiring *rotate.CAExpiringError
			if !errors.As(err, &expiring) || len(expiring.CAs) != 2 {
				t.Fatalf("err = %v, want both CAs named as ending inside the window", err)
			}
			want := fmt.Sprintf("the transport CA %q expires %s and the http CA %q expires %s, inside the renewal window", n.local.CAs[spec.Transport].Cert.Subject.CommonName,
				caEnd.Format(time.DateOnly), n.local.CAs[spec.HTTP].Cert.Subject.CommonName, caEnd.Format(time.DateOnly))
			if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "rotate the CA (escert ca rotate begin)") {
				t.Errorf("message %q, want it to start %q and point at escert ca rotate", err, want)
			}
			if len(renewed) != tc.wantFiles {
				t.Fatalf("renewed %d, want %d: %+v", len(renewed), tc.wantFiles, renewed)
			}
			for _, r := range renewed {
				if !r.NotAfter.Equal(caEnd) {
					t.Errorf("%s renewed to %v, want it to end with the CA at %v", r.Layer, r.NotAfter, caEnd)
				}
			}
		})
	}
}

func TestRenewRefusesACADifferentFromTheIssuer(t *testing.T) {
	n := installedNode(t, bundle.P12, 365, 3650)
	other := installedNode(t, bundle.P12, 365, 3650)
	certs, _ := rotate.Discover(n.config, nil)
	_, _, err := rotate.Renew(context.Background(), certs, rotate.Options{ConfigDir: n.config, Issuer: other.local, Window: expiry.DefaultWindow, Force: true, Rand: rand.Reader, Now: issued})
	var in *fault.InputError
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "point --ca-dir at the CA that issued it") {
		t.Fatalf("err = %v", err)
	}
}

func TestRenewalKeepsTheWholeSubjectOnlyOnOpenSearch(t *testing.T) {
	for _, tc := range []struct {
		engine target.Target
		format bundle.Format
		want   bool
	}{{target.OpenSearch, bundle.PEM, true}, {target.Elasticsearch, bundle.PEM, false}, {target.Elasticsearch, bundle.P12, false}} {
		n := installedNodeOf(t, tc.engine, tc.format, 365, 3650)
		certs, err := rotate.Discover(n.config, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range certs {
			s, _, err := rotate.RenewalSpec(c)
			if err != nil {
				t.Fatal(err)
			}
			if s.KeepSubject != tc.want {
				t.Errorf("%s %s: the %s renewal's KeepSubject = %v, want %v (nodes_dn matches the whole DN on OpenSearch only)", tc.engine, tc.format, c.Layer, s.KeepSubject, tc.want)
			}
		}
	}
}

func TestDiscoverReportsMissingCertificates(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "elasticsearch.yml"), []byte("path.data: /x\n"), 0o600)
	if _, err := rotate.Discover(dir, nil); !errors.Is(err, rotate.ErrMissing) {
		t.Errorf("no TLS settings: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "elasticsearch.yml"), []byte("xpack.security.http.ssl.enabled: true\nxpack.security.http.ssl.keystore.path: certs/gone.p12\n"), 0o600)
	if _, err := rotate.Discover(dir, nil); !errors.Is(err, rotate.ErrMissing) {
		t.Errorf("missing file: %v", err)
	}
}
