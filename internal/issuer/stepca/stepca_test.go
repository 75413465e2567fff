package stepca

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/realtest"
)

// Under fips140=only (make test-fips) Go refuses the AES-GCM of step-ca's key JWE
// whatever the password: the error must say that, not "wrong password" alone. In a
// standard run, and with BoringCrypto (make test-boring), the same call succeeds.
func TestProvisionerKeyUnderFIPSOnlyModeSaysWhy(t *testing.T) {
	s := realtest.StartStepCA(t, realtest.StepCAOptions{})
	_, err := New(context.Background(), Config{URL: s.URL, Fingerprint: s.Fingerprint, Provisioner: s.Provisioner, Password: []byte(s.Password)})
	if m := fips.Current(); m.Name != "go-fips140" || !m.Enforced {
		if err != nil {
			t.Fatalf("standard mode: %v", err)
		}
		return
	}
	if !errors.Is(err, ErrWrongPassword) || !strings.Contains(err.Error(), "FIPS 140-only mode cannot decrypt") || !strings.Contains(err.Error(), "renewal") {
		t.Errorf("FIPS-only mode: %v", err)
	}
}
