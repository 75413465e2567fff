package expiry

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// issued is when the test certificates start; judgements move the clock from it.
var issued = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

// cert issues a certificate valid from notBefore (less escert's 5-minute backdate)
// to notAfter: a CA, or a leaf from a CA that outlives it. Judge reads nothing else
// but the subject.
func cert(t *testing.T, cn string, isCA bool, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	policy := fips.ForCurrent(false)
	key, err := ca.GenerateKey(rand.Reader, policy, fips.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	caEnd := notAfter.AddDate(1, 0, 0)
	if isCA {
		caEnd = notAfter
	}
	root, err := ca.NewRoot(rand.Reader, policy, key, pkix.Name{CommonName: cn}, notBefore, caEnd)
	if err != nil {
		t.Fatal(err)
	}
	if isCA {
		return root
	}
	authority := &ca.Authority{Cert: root, Key: key}
	leaf, err := authority.Sign(rand.Reader, policy, ca.Leaf{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn}, ServerAuth: true, NotBefore: notBefore, NotAfter: notAfter}, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestJudgeGivesEachVerdictItsFinding(t *testing.T) {
	leaf := cert(t, "node1", false, issued, issued.AddDate(1, 0, 0))
	ca := cert(t, "transport CA", true, issued, issued.AddDate(10, 0, 0))
	cases := []struct {
		name    string
		cert    *x509.Certificate
		window  Window
		now     time.Time
		verdict Verdict
		id      string
		broken  bool
	}{
		{"fresh leaf", leaf, Days(30), issued.AddDate(0, 1, 0), OK, "", false},
		{"leaf inside --warn-days", leaf, Days(30), leaf.NotAfter.AddDate(0, 0, -15), Due, IDExpiring, false},
		{"leaf inside --at 2/3", leaf, Window{Fraction: 2.0 / 3}, issued.AddDate(0, 9, 0), Due, IDExpiring, false},
		{"leaf expired", leaf, Days(30), leaf.NotAfter.Add(time.Hour), Expired, IDExpired, true},
		{"leaf not yet valid", leaf, Days(30), issued.Add(-time.Hour), NotYetValid, IDNotYetValid, true},
		{"CA inside --warn-days", ca, Days(30), ca.NotAfter.AddDate(0, 0, -10), Due, IDExpiring, false},
		{"CA expired", ca, Days(30), ca.NotAfter.AddDate(0, 0, 1), Expired, IDExpired, true},
	}
	var golden strings.Builder
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := tc.window.Judge(tc.cert, tc.now)
			if j.Verdict != tc.verdict || j.ID != tc.id || j.Broken() != tc.broken {
				t.Fatalf("Judge = %+v, want verdict %v, ID %q, broken %v", j, tc.verdict, tc.id, tc.broken)
			}
			if (j.Message == "" || j.Fix == "") != (tc.verdict == OK) {
				t.Errorf("message %q, fix %q for verdict %v", j.Message, j.Fix, j.Verdict)
			}
			if j.Verdict != OK {
				fmt.Fprintf(&golden, "%s: %s %s. Fix: %s\n", tc.name, j.ID, j.Message, j.Fix)
			}
		})
	}
	compareGolden(t, "judgements.golden", golden.String())
}

// Renewal and the warnings of check and probe judge by one window: whatever the
// window, a valid certificate is Due exactly when the window says renew.
func TestJudgeAgreesWithTheRenewalWindow(t *testing.T) {
	leaf := cert(t, "node1", false, issued, issued.AddDate(1, 0, 0))
	for _, w := range []Window{DefaultWindow, Days(0), Days(90), {Fraction: 2.0 / 3}, {Fraction: 0.5}} {
		for day := 0; day <= 365; day++ {
			now := issued.AddDate(0, 0, day)
			if due, judged := w.Due(leaf, now), w.Judge(leaf, now).Verdict == Due; due != judged {
				t.Fatalf("window %+v on day %d: Due %v, Judge due %v", w, day, due, judged)
			}
		}
	}
}

func TestMidLifeIsInsideTheValidity(t *testing.T) {
	leaf := cert(t, "node1", false, issued, issued.Add(10*time.Minute)) // from issued-5m
	if got, want := MidLife(leaf), issued.Add(150*time.Second); !got.Equal(want) {
		t.Errorf("MidLife = %v, want %v", got, want)
	}
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}
