package nodetls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/escert/escert/internal/esconfig"
)

var issued = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func create(t *testing.T, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCA(t *testing.T, cn string) authority {
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: issued, NotAfter: issued.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	return authority{create(t, tmpl, tmpl, &key.PublicKey, key), key}
}

// leaf issues a year-long certificate allowing the extended key usages given (none:
// any use, as certutil's leaves).
func (a authority) leaf(t *testing.T, usages ...x509.ExtKeyUsage) *x509.Certificate {
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node1"}, NotBefore: issued, NotAfter: issued.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usages,
	}
	return create(t, tmpl, a.cert, &key.PublicKey, a.key)
}

func TestVerifyChecksEveryRoleOfTheLayer(t *testing.T) {
	transportCA, otherCA := newCA(t, "transport CA"), newCA(t, "other CA")
	server, client := x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth
	cases := []struct {
		name    string
		leaf    *x509.Certificate
		layer   string
		now     time.Time
		missing []Role // nil: verifies
		other   bool   // fails otherwise than for a usage
	}{
		{"transport, server and client", transportCA.leaf(t, server, client), esconfig.Transport, issued.AddDate(0, 1, 0), nil, false},
		{"transport, no extended key usage", transportCA.leaf(t), esconfig.Transport, issued.AddDate(0, 1, 0), nil, false},
		{"transport, server only", transportCA.leaf(t, server), esconfig.Transport, issued.AddDate(0, 1, 0), []Role{Client}, false},
		{"transport, client only", transportCA.leaf(t, client), esconfig.Transport, issued.AddDate(0, 1, 0), []Role{Server}, false},
		{"HTTP, server only", transportCA.leaf(t, server), esconfig.HTTP, issued.AddDate(0, 1, 0), nil, false},
		{"HTTP, client only", transportCA.leaf(t, client), esconfig.HTTP, issued.AddDate(0, 1, 0), []Role{Server}, false},
		{"a realm's CA takes any usage", transportCA.leaf(t, client), "", issued.AddDate(0, 1, 0), nil, false},
		{"expired leaf is verified mid-life", transportCA.leaf(t, server, client), esconfig.Transport, issued.AddDate(2, 0, 0), nil, false},
		{"another CA's leaf", otherCA.leaf(t, server, client), esconfig.Transport, issued.AddDate(0, 1, 0), nil, true},
	}
	roots := Pool(transportCA.cert)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			verified, err := Verify([]*x509.Certificate{tc.leaf}, roots, Roles(tc.layer), tc.now)
			var usage *UsageError
			switch {
			case tc.other:
				if err == nil || errors.As(err, &usage) {
					t.Fatalf("err = %v, want a trust failure", err)
				}
			case tc.missing != nil:
				if !errors.As(err, &usage) || !reflect.DeepEqual(usage.Missing, tc.missing) {
					t.Fatalf("err = %v, want the roles %v missing", err, tc.missing)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			case len(verified) != 2 || !verified[1].Equal(transportCA.cert):
				t.Errorf("verified chain %v does not end at the CA", verified)
			}
		})
	}
}
