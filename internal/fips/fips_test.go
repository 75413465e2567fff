package fips

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"runtime/debug"
	"testing"
)

// policies are the two policies every case runs under: the allow-list is the same,
// only the wording of an RSA refusal says which mode refused it.
var policies = []struct {
	name   string
	policy Policy
}{
	{"standard", Policy{FIPS: false}},
	{"fips", Policy{FIPS: true}},
}

func TestCheckKeyAllowsOnlyTheApprovedSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec KeySpec
		// wantErr is the refusal in standard mode and wantFIPSErr in FIPS mode; both
		// empty means the spec is allowed in both modes.
		wantErr     string
		wantFIPSErr string
	}{
		{name: "ecdsa P-256 is allowed", spec: KeySpec{Type: ECDSA, Curve: "P-256"}},
		{name: "ecdsa P-384 is allowed", spec: KeySpec{Type: ECDSA, Curve: "P-384"}},
		{name: "rsa 2048 is allowed", spec: KeySpec{Type: RSA, Bits: 2048}},
		{name: "rsa 3072 is allowed", spec: KeySpec{Type: RSA, Bits: 3072}},
		{name: "rsa 4096 is allowed", spec: KeySpec{Type: RSA, Bits: 4096}},
		{
			name:        "ecdsa P-521 is refused",
			spec:        KeySpec{Type: ECDSA, Curve: "P-521"},
			wantErr:     `curve "P-521" is not supported: use --curve P-256 or --curve P-384`,
			wantFIPSErr: `curve "P-521" is not supported: use --curve P-256 or --curve P-384`,
		},
		{
			name:        "ecdsa P-224 is refused",
			spec:        KeySpec{Type: ECDSA, Curve: "P-224"},
			wantErr:     `curve "P-224" is not supported: use --curve P-256 or --curve P-384`,
			wantFIPSErr: `curve "P-224" is not supported: use --curve P-256 or --curve P-384`,
		},
		{
			name:        "ecdsa lower-case curve name is refused by CheckKey (ParseKeySpec normalises)",
			spec:        KeySpec{Type: ECDSA, Curve: "p-256"},
			wantErr:     `curve "p-256" is not supported: use --curve P-256 or --curve P-384`,
			wantFIPSErr: `curve "p-256" is not supported: use --curve P-256 or --curve P-384`,
		},
		{
			name:        "ecdsa without curve is refused",
			spec:        KeySpec{Type: ECDSA},
			wantErr:     `curve "" is not supported: use --curve P-256 or --curve P-384`,
			wantFIPSErr: `curve "" is not supported: use --curve P-256 or --curve P-384`,
		},
		{
			name:        "rsa 1024 is refused",
			spec:        KeySpec{Type: RSA, Bits: 1024},
			wantErr:     "RSA-1024 is not allowed: use --key-size 2048, 3072 or 4096, or --key-type ecdsa",
			wantFIPSErr: "RSA-1024 is not allowed in FIPS mode: use --key-size 2048, 3072 or 4096, or --key-type ecdsa",
		},
		{
			name:        "rsa 8192 is refused",
			spec:        KeySpec{Type: RSA, Bits: 8192},
			wantErr:     "RSA-8192 is not allowed: use --key-size 2048, 3072 or 4096, or --key-type ecdsa",
			wantFIPSErr: "RSA-8192 is not allowed in FIPS mode: use --key-size 2048, 3072 or 4096, or --key-type ecdsa",
		},
		{
			name:        "rsa 2049 is refused",
			spec:        KeySpec{Type: RSA, Bits: 2049},
			wantErr:     "RSA-2049 is not allowed: use --key-size 2048, 3072 or 4096, or --key-type ecdsa",
			wantFIPSErr: "RSA-2049 is not allowed in FIPS mode: use --key-size 2048, 3072 or 4096, or --key-type ecdsa",
		},
		{
			name:        "rsa without size is refused",
			spec:        KeySpec{Type: RSA},
			wantErr:     "RSA-0 is not allowed: use --key-size 2048, 3072 or 4096, or --key-type ecdsa",
			wantFIPSErr: "RSA-0 is not allowed in FIPS mode: use --key-size 2048, 3072 or 4096, or --key-type ecdsa",
		},
		{
			name:        "ed25519 is refused",
			spec:        KeySpec{Type: "ed25519"},
			wantErr:     `key type "ed25519" is not supported: use --key-type ecdsa or --key-type rsa`,
			wantFIPSErr: `key type "ed25519" is not supported: use --key-type ecdsa or --key-type rsa`,
		},
		{
			name:        "empty key type is refused",
			spec:        KeySpec{},
			wantErr:     `key type "" is not supported: use --key-type ecdsa or --key-type rsa`,
			wantFIPSErr: `key type "" is not supported: use --key-type ecdsa or --key-type rsa`,
		},
	}
	for _, tt := range tests {
		for _, p := range policies {
			t.Run(tt.name+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				want := tt.wantErr
				if p.policy.FIPS {
					want = tt.wantFIPSErr
				}
				err := p.policy.CheckKey(tt.spec)
				if got := errString(err); got != want {
					t.Errorf("CheckKey(%+v) = %q, want %q", tt.spec, got, want)
				}
			})
		}
	}
}

func TestParseKeySpecAppliesDefaultsAndNormalises(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		keyType string
		bits    int
		curve   string
		want    KeySpec
		wantErr string
	}{
		{name: "ecdsa defaults to P-256", keyType: "ecdsa", want: KeySpec{Type: ECDSA, Curve: "P-256"}},
		{name: "ecdsa takes P-384", keyType: "ecdsa", curve: "P-384", want: KeySpec{Type: ECDSA, Curve: "P-384"}},
		{name: "curve is case-insensitive", keyType: "ecdsa", curve: "p-384", want: KeySpec{Type: ECDSA, Curve: "P-384"}},
		{name: "key type is case-insensitive", keyType: "ECDSA", want: KeySpec{Type: ECDSA, Curve: "P-256"}},
		{name: "ecdsa ignores key size", keyType: "ecdsa", bits: 4096, want: KeySpec{Type: ECDSA, Curve: "P-256"}},
		{name: "rsa defaults to 3072", keyType: "rsa", want: KeySpec{Type: RSA, Bits: 3072}},
		{name: "rsa takes 2048", keyType: "RSA", bits: 2048, want: KeySpec{Type: RSA, Bits: 2048}},
		{name: "rsa takes 4096", keyType: "rsa", bits: 4096, want: KeySpec{Type: RSA, Bits: 4096}},
		{name: "rsa ignores curve", keyType: "rsa", bits: 2048, curve: "P-384", want: KeySpec{Type: RSA, Bits: 2048}},
		{
			name: "rsa 1024 is refused", keyType: "rsa", bits: 1024, want: KeySpec{Type: RSA, Bits: 1024},
			wantErr: "RSA-1024 is not allowed in FIPS mode: use --key-size 2048, 3072 or 4096, or --key-type ecdsa",
		},
		{
			name: "unknown curve is refused", keyType: "ecdsa", curve: "secp256k1", want: KeySpec{Type: ECDSA, Curve: "SECP256K1"},
			wantErr: `curve "SECP256K1" is not supported: use --curve P-256 or --curve P-384`,
		},
		{
			name: "unknown key type is refused", keyType: "dsa", bits: 2048, want: KeySpec{Type: "dsa", Bits: 2048},
			wantErr: `key type "dsa" is not supported: use --key-type ecdsa or --key-type rsa`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Policy{FIPS: true}.ParseKeySpec(tt.keyType, tt.bits, tt.curve)
			if got != tt.want {
				t.Errorf("ParseKeySpec(%q, %d, %q) = %+v, want %+v", tt.keyType, tt.bits, tt.curve, got, tt.want)
			}
			if e := errString(err); e != tt.wantErr {
				t.Errorf("ParseKeySpec(%q, %d, %q) error = %q, want %q", tt.keyType, tt.bits, tt.curve, e, tt.wantErr)
			}
		})
	}
}

func TestKeySpecStringIsTheCommandLineForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec KeySpec
		want string
	}{
		{KeySpec{Type: ECDSA, Curve: "P-256"}, "ECDSA P-256"},
		{KeySpec{Type: ECDSA, Curve: "P-384"}, "ECDSA P-384"},
		{KeySpec{Type: RSA, Bits: 3072}, "RSA-3072"},
		{DefaultKey, "ECDSA P-256"},
	}
	for _, tt := range tests {
		if got := tt.spec.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

func TestDefaultKeyIsAllowedInFIPSMode(t *testing.T) {
	t.Parallel()
	if err := (Policy{FIPS: true}).CheckKey(DefaultKey); err != nil {
		t.Errorf("DefaultKey %v is refused in FIPS mode: %v", DefaultKey, err)
	}
}

func TestCurveReturnsTheNamedCurve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		want    elliptic.Curve
		wantErr string
	}{
		{"P-256", elliptic.P256(), ""},
		{"P-384", elliptic.P384(), ""},
		{"P-521", nil, `curve "P-521" is not supported: use --curve P-256 or --curve P-384`},
		{"", nil, `curve "" is not supported: use --curve P-256 or --curve P-384`},
	}
	for _, tt := range tests {
		for _, p := range policies {
			c, err := p.policy.Curve(tt.name)
			if c != tt.want {
				t.Errorf("%s: Curve(%q) = %v, want %v", p.name, tt.name, c, tt.want)
			}
			if got := errString(err); got != tt.wantErr {
				t.Errorf("%s: Curve(%q) error = %q, want %q", p.name, tt.name, got, tt.wantErr)
			}
		}
	}
}

// Keys for SpecOf and SignatureAlgorithm. Only the public halves matter, so the RSA
// keys are built from a fixed modulus of the right size instead of generated.

func ecdsaPublic(t *testing.T, c elliptic.Curve) crypto.PublicKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

func rsaPublic(bits int) crypto.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(1)) // odd, exactly bits long
	return &rsa.PublicKey{N: n, E: 65537}
}

func TestSpecOfDescribesExistingKeys(t *testing.T) {
	t.Parallel()
	edPub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pub     crypto.PublicKey
		want    KeySpec
		wantErr string
	}{
		{name: "ecdsa P-256", pub: ecdsaPublic(t, elliptic.P256()), want: KeySpec{Type: ECDSA, Curve: "P-256"}},
		{name: "ecdsa P-384", pub: ecdsaPublic(t, elliptic.P384()), want: KeySpec{Type: ECDSA, Curve: "P-384"}},
		{name: "ecdsa P-521", pub: ecdsaPublic(t, elliptic.P521()), want: KeySpec{Type: ECDSA, Curve: "P-521"}},
		{name: "rsa 2048", pub: rsaPublic(2048), want: KeySpec{Type: RSA, Bits: 2048}},
		{name: "rsa 1024", pub: rsaPublic(1024), want: KeySpec{Type: RSA, Bits: 1024}},
		{
			name: "ed25519 is not supported", pub: edPub,
			wantErr: "key type ed25519.PublicKey is not supported: escert uses ECDSA P-256/P-384 or RSA 2048-4096 keys",
		},
		{
			name: "a private key is not a public key", pub: &rsa.PrivateKey{},
			wantErr: "key type *rsa.PrivateKey is not supported: escert uses ECDSA P-256/P-384 or RSA 2048-4096 keys",
		},
	}
	for _, tt := range tests {
		got, err := SpecOf(tt.pub)
		if got != tt.want {
			t.Errorf("%s: SpecOf = %+v, want %+v", tt.name, got, tt.want)
		}
		if e := errString(err); e != tt.wantErr {
			t.Errorf("%s: SpecOf error = %q, want %q", tt.name, e, tt.wantErr)
		}
	}
}

func TestSignatureAlgorithmMatchesTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pub     crypto.PublicKey
		want    x509.SignatureAlgorithm
		wantErr string
	}{
		{name: "P-256 signs with SHA-256", pub: ecdsaPublic(t, elliptic.P256()), want: x509.ECDSAWithSHA256},
		{name: "P-384 signs with SHA-384", pub: ecdsaPublic(t, elliptic.P384()), want: x509.ECDSAWithSHA384},
		{name: "RSA 2048 signs with SHA-256", pub: rsaPublic(2048), want: x509.SHA256WithRSA},
		{name: "RSA 3072 signs with SHA-256", pub: rsaPublic(3072), want: x509.SHA256WithRSA},
		{name: "RSA 4096 signs with SHA-256", pub: rsaPublic(4096), want: x509.SHA256WithRSA},
		{
			name: "P-521 is refused", pub: ecdsaPublic(t, elliptic.P521()), want: x509.UnknownSignatureAlgorithm,
			wantErr: `curve "P-521" is not supported: use --curve P-256 or --curve P-384`,
		},
		{
			name: "RSA 1024 is refused", pub: rsaPublic(1024), want: x509.UnknownSignatureAlgorithm,
			wantErr: "RSA-1024 is not allowed in FIPS mode: use --key-size 2048, 3072 or 4096, or --key-type ecdsa",
		},
		{
			name: "an unknown key type is refused", pub: "not a key", want: x509.UnknownSignatureAlgorithm,
			wantErr: "key type string is not supported: escert uses ECDSA P-256/P-384 or RSA 2048-4096 keys",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Policy{FIPS: true}.SignatureAlgorithm(tt.pub)
			if got != tt.want {
				t.Errorf("SignatureAlgorithm = %v, want %v", got, tt.want)
			}
			if e := errString(err); e != tt.wantErr {
				t.Errorf("SignatureAlgorithm error = %q, want %q", e, tt.wantErr)
			}
		})
	}
}

func TestCheckPublicKeyAppliesThePolicyToExistingKeys(t *testing.T) {
	t.Parallel()
	for _, p := range policies {
		if err := p.policy.CheckPublicKey(ecdsaPublic(t, elliptic.P384())); err != nil {
			t.Errorf("%s: P-384 key refused: %v", p.name, err)
		}
		if err := p.policy.CheckPublicKey(rsaPublic(2048)); err != nil {
			t.Errorf("%s: RSA-2048 key refused: %v", p.name, err)
		}
		if err := p.policy.CheckPublicKey(rsaPublic(1024)); err == nil {
			t.Errorf("%s: RSA-1024 key accepted", p.name)
		}
		if err := p.policy.CheckPublicKey(ecdsaPublic(t, elliptic.P521())); err == nil {
			t.Errorf("%s: P-521 key accepted", p.name)
		}
	}
}

// TestCurrentReflectsTheProcess checks Current against the runtime: "off" in a normal
// test run, the Go FIPS 140-3 module under GODEBUG=fips140=on or only.
func TestCurrentReflectsTheProcess(t *testing.T) {
	t.Parallel()
	m := Current()
	switch {
	case boringEnabled():
		if m != (Mode{Name: "boringcrypto", Enforced: true, Build: Build()}) {
			t.Errorf("Current() = %+v in a BoringCrypto build", m)
		}
	case fips140.Enabled():
		want := Mode{Name: "go-fips140", ModuleVersion: fips140.Version(), Enforced: fips140.Enforced(), Build: Build()}
		if m != want {
			t.Errorf("Current() = %+v, want %+v", m, want)
		}
		if !ForCurrent(false).FIPS {
			t.Error("ForCurrent(false).FIPS = false in FIPS 140 mode")
		}
	default:
		if m != (Mode{Name: "off", Build: Build()}) {
			t.Errorf("Current() = %+v in a normal test run, want off", m)
		}
		if ForCurrent(false).FIPS {
			t.Error("ForCurrent(false).FIPS = true in a normal test run")
		}
		if got, want := m.String(), "off (standard Go crypto)"; got != want {
			t.Errorf("Current().String() = %q, want %q", got, want)
		}
	}
}

func TestModeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode Mode
		want string
	}{
		{Mode{Name: "off"}, "off (standard Go crypto)"},
		{Mode{}, "off (standard Go crypto)"},
		{Mode{Name: "go-fips140", ModuleVersion: "v1.0.0"}, "Go FIPS 140-3 module v1.0.0"},
		{Mode{Name: "go-fips140", ModuleVersion: "v1.0.0", Enforced: true}, "Go FIPS 140-3 module v1.0.0 (enforced)"},
		{Mode{Name: "boringcrypto", Enforced: true}, "BoringCrypto"},
	}
	for _, tt := range tests {
		if got := tt.mode.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.mode, got, tt.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestBuildFlavourComesFromTheRecordedSettings(t *testing.T) {
	cases := []struct {
		name     string
		settings []debug.BuildSetting
		want     string
	}{
		{"standard", []debug.BuildSetting{{Key: "CGO_ENABLED", Value: "0"}}, ""},
		{"go fips140", []debug.BuildSetting{{Key: "GOFIPS140", Value: "v1.0.0-c2097c7c"}}, "go-fips140"},
		{"fips140 off", []debug.BuildSetting{{Key: "GOFIPS140", Value: "off"}}, ""},
		{"boringcrypto", []debug.BuildSetting{{Key: "GOEXPERIMENT", Value: "boringcrypto"}}, "boringcrypto"},
	}
	for _, tc := range cases {
		if got := buildFlavour(tc.settings); got != tc.want {
			t.Errorf("%s: buildFlavour = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCheckRuntimeRefusesAFIPSBuildWithItsModuleOff(t *testing.T) {
	cases := []struct {
		name  string
		build string
		mode  Mode
		ok    bool
	}{
		{"standard build", "", Mode{Name: "off"}, true},
		{"go fips140 enforced", "go-fips140", Mode{Name: "go-fips140", Enforced: true}, true},
		{"go fips140 switched off", "go-fips140", Mode{Name: "off"}, false},
		{"go fips140 not enforced", "go-fips140", Mode{Name: "go-fips140"}, false},
		{"boringcrypto in use", "boringcrypto", Mode{Name: "boringcrypto", Enforced: true}, true},
		{"boringcrypto without cgo", "boringcrypto", Mode{Name: "off"}, false},
	}
	for _, tc := range cases {
		err := checkRuntime(tc.build, tc.mode)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrModuleOff)) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestCheckPasswordOnlyBindsInFIPSMode(t *testing.T) {
	how := "--keystore-pass-file"
	if err := (Policy{}).CheckPassword("keystore password", how, nil); err != nil {
		t.Errorf("outside FIPS an empty password is refused: %v", err)
	}
	fips := Policy{FIPS: true}
	cases := map[string]string{
		"":                 "FIPS mode needs a keystore password: give one of at least 14 bytes with --keystore-pass-file",
		"short":            "the keystore password has 5 bytes; FIPS mode needs at least 14: give a longer one with --keystore-pass-file",
		"fourteen bytes!!": "",
	}
	for pw, want := range cases {
		err := fips.CheckPassword("keystore password", how, []byte(pw))
		if got := fmt.Sprint(err); (want == "" && err != nil) || (want != "" && got != want) {
			t.Errorf("%q: err = %v, want %q", pw, err, want)
		}
	}
	if !ForCurrent(true).FIPS {
		t.Error("--fips does not turn the policy on")
	}
}
