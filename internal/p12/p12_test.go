package p12

import (
	"bytes"
	"crypto/fips140"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	ec, rsa := fixtures()["EC"], fixtures()["RSA"]
	tests := []struct {
		name    string
		key     *KeyEntry
		trusted []TrustedCert
	}{
		{"EC key with its CA as trusted entry", ec.keyEntry("node-1"), []TrustedCert{{"ca", ec.ca}}},
		{"RSA key with its CA as trusted entry", rsa.keyEntry("node-1"), []TrustedCert{{"ca", rsa.ca}}},
		{"EC key without trusted entries", ec.keyEntry("node-1"), nil},
		{"EC key with three-certificate chain", &KeyEntry{Alias: "http", Key: ec.leafKey, Chain: []*x509.Certificate{
			issue(&x509.Certificate{SerialNumber: ec.leaf.SerialNumber, Subject: ec.leaf.Subject}, ec.inter, ec.interKey, ec.leafKey),
			ec.inter, ec.ca,
		}}, []TrustedCert{{"ca", ec.ca}}},
		{"truststore only with two CAs", nil, []TrustedCert{{"ec-ca", ec.ca}, {"rsa-ca", rsa.ca}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Encode(rand.Reader, testPassword, tt.key, tt.trusted)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(data, testPassword)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkKeys(t, got, tt.key)
			checkTrusted(t, got, tt.trusted)
			if len(got.Other) != 0 {
				t.Errorf("Other = %d certificates, want none", len(got.Other))
			}
			if got.Encryption != wantEncryption || got.Legacy {
				t.Errorf("Encryption = %q, Legacy = %v; want %q, false", got.Encryption, got.Legacy, wantEncryption)
			}
		})
	}
}

func checkKeys(t *testing.T, got *Contents, want *KeyEntry) {
	t.Helper()
	if want == nil {
		if len(got.Keys) != 0 {
			t.Fatalf("got %d keys, want none", len(got.Keys))
		}
		return
	}
	if len(got.Keys) != 1 {
		t.Fatalf("got %d keys, want 1", len(got.Keys))
	}
	k := got.Keys[0]
	if k.Alias != want.Alias {
		t.Errorf("key alias = %q, want %q", k.Alias, want.Alias)
	}
	if !equalKeys(k.Key, want.Key) {
		t.Errorf("decoded key differs from the encoded one")
	}
	if len(k.Chain) != len(want.Chain) {
		t.Fatalf("chain length = %d, want %d", len(k.Chain), len(want.Chain))
	}
	for i := range k.Chain {
		if !k.Chain[i].Equal(want.Chain[i]) {
			t.Errorf("chain[%d] = %q, want %q", i, k.Chain[i].Subject, want.Chain[i].Subject)
		}
	}
}

func checkTrusted(t *testing.T, got *Contents, want []TrustedCert) {
	t.Helper()
	if len(got.Trusted) != len(want) {
		t.Fatalf("got %d trusted entries, want %d", len(got.Trusted), len(want))
	}
	for i := range want {
		if got.Trusted[i].Alias != want[i].Alias || !got.Trusted[i].Cert.Equal(want[i].Cert) {
			t.Errorf("trusted[%d] = %q %q, want %q %q", i, got.Trusted[i].Alias, got.Trusted[i].Cert.Subject, want[i].Alias, want[i].Cert.Subject)
		}
	}
}

func TestDecodeWrongPasswordIsErrWrongPassword(t *testing.T) {
	ec := fixtures()["EC"]
	data := must(Encode(rand.Reader, testPassword, ec.keyEntry("node-1"), nil))
	const wrong = "not-the-password"
	_, err := Decode(data, wrong)
	if !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("Decode with a wrong password: got %v, want ErrWrongPassword", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error %q contains the password", err)
	}
}

func TestEncodeEmptyPasswordRoundTrips(t *testing.T) {
	ec := fixtures()["EC"]
	data := must(Encode(rand.Reader, "", ec.keyEntry("node-1"), []TrustedCert{{"ca", ec.ca}}))
	got, err := Decode(data, "")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	checkKeys(t, got, ec.keyEntry("node-1"))
}

func TestEncodeRejectsWhatJavaWouldMisread(t *testing.T) {
	ec, rsa := fixtures()["EC"], fixtures()["RSA"]
	tests := []struct {
		name     string
		password string
		key      *KeyEntry
		trusted  []TrustedCert
		want     string
	}{
		{"nothing to write", testPassword, nil, nil, "no key and no trusted"},
		{"empty key alias", testPassword, ec.keyEntry(""), nil, "empty alias"},
		{"aliases equal ignoring case", testPassword, ec.keyEntry("Node"), []TrustedCert{{"node", ec.ca}}, "duplicate alias"},
		{"leaf certificate of another key", testPassword, &KeyEntry{Alias: "n", Key: rsa.leafKey, Chain: []*x509.Certificate{ec.leaf}}, nil, "not for this key"},
		{"chain out of order", testPassword, &KeyEntry{Alias: "n", Key: ec.leafKey, Chain: []*x509.Certificate{ec.leaf, ec.inter}}, nil, "did not issue"},
		{"empty chain", testPassword, &KeyEntry{Alias: "n", Key: ec.leafKey}, nil, "missing certificate"},
		{"trusted entry without certificate", testPassword, nil, []TrustedCert{{"ca", nil}}, "no certificate"},
		{"password outside the BMP", "pass\U0001F511word", ec.keyEntry("n"), nil, "Basic Multilingual Plane"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Encode(rand.Reader, tt.password, tt.key, tt.trusted)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Encode: got %v, want error containing %q", err, tt.want)
			}
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestEncodeTakesAllRandomnessFromRand(t *testing.T) {
	ec := fixtures()["EC"]
	encode := func(seed byte) []byte {
		r := mrand.NewChaCha8([32]byte{seed})
		return must(Encode(r, testPassword, ec.keyEntry("node-1"), []TrustedCert{{"ca", ec.ca}}))
	}
	if !bytes.Equal(encode(1), encode(1)) {
		t.Error("same rand stream, different files")
	}
	if bytes.Equal(encode(1), encode(2)) {
		t.Error("different rand streams, same file")
	}
}

func TestDecodeRejectsMalformedInput(t *testing.T) {
	ec := fixtures()["EC"]
	good := must(Encode(rand.Reader, testPassword, ec.keyEntry("node-1"), nil))
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"PEM instead of DER", []byte("-----BEGIN CERTIFICATE-----\n")},
		{"truncated", good[:len(good)/2]},
		{"trailing garbage", append(bytes.Clone(good), 0)},
		{"a bare certificate", ec.ca.Raw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := Decode(tt.data, testPassword); err == nil {
				t.Fatalf("Decode succeeded with %+v", c)
			}
		})
	}
}

// TestGoPKCS12Interop checks both directions against go-pkcs12, an independent
// implementation: it must read escert's files, and Decode must read its files.
func TestGoPKCS12Interop(t *testing.T) {
	ec := fixtures()["EC"]

	t.Run("go-pkcs12 reads the key entry", func(t *testing.T) {
		data := must(Encode(rand.Reader, testPassword, ec.keyEntry("node-1"), nil))
		key, leaf, cas, err := gopkcs12.DecodeChain(data, testPassword)
		if err != nil {
			t.Fatalf("DecodeChain: %v", err)
		}
		if !equalKeys(key, ec.leafKey) || !leaf.Equal(ec.leaf) || len(cas) != 1 || !cas[0].Equal(ec.ca) {
			t.Errorf("DecodeChain returned different key or certificates")
		}
	})
	t.Run("go-pkcs12 reads the trusted entries", func(t *testing.T) {
		data := must(Encode(rand.Reader, testPassword, nil, []TrustedCert{{"ca", ec.ca}}))
		certs, err := gopkcs12.DecodeTrustStore(data, testPassword)
		if err != nil || len(certs) != 1 || !certs[0].Equal(ec.ca) {
			t.Fatalf("DecodeTrustStore = %d certificates, %v", len(certs), err)
		}
	})
	t.Run("Decode reads Modern2023 trust store", func(t *testing.T) {
		data := must(gopkcs12.Modern2023.EncodeTrustStoreEntries([]gopkcs12.TrustStoreEntry{{Cert: ec.ca, FriendlyName: "ca"}}, testPassword))
		got, err := Decode(data, testPassword)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		checkTrusted(t, got, []TrustedCert{{"ca", ec.ca}})
		if want := "PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256 (2048 iterations), MAC HMAC-SHA256 (2048 iterations)"; got.Encryption != want {
			t.Errorf("Encryption = %q, want %q", got.Encryption, want)
		}
	})
	t.Run("Decode reads Modern2023 key without alias", func(t *testing.T) {
		if fips140.Enforced() {
			t.Skip("go-pkcs12's Encode computes localKeyId with SHA-1, which panics in FIPS 140-only mode")
		}
		data := must(gopkcs12.Modern2023.Encode(ec.leafKey, ec.leaf, []*x509.Certificate{ec.ca}, testPassword))
		got, err := Decode(data, testPassword)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		checkKeys(t, got, &KeyEntry{Alias: "", Key: ec.leafKey, Chain: []*x509.Certificate{ec.leaf, ec.ca}})
	})
	t.Run("Decode reads LegacyDES", func(t *testing.T) {
		if fips140.Enforced() {
			t.Skip("go-pkcs12's LegacyDES encoder uses SHA-1 and 3DES, which panic in FIPS 140-only mode")
		}
		data := must(gopkcs12.LegacyDES.Encode(ec.leafKey, ec.leaf, []*x509.Certificate{ec.ca}, testPassword))
		got, err := Decode(data, testPassword)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		checkKeys(t, got, &KeyEntry{Key: ec.leafKey, Chain: []*x509.Certificate{ec.leaf, ec.ca}})
		if !got.Legacy || got.Encryption != "PBE-SHA1-3DES (2048 iterations), MAC HMAC-SHA1 (1 iteration)" {
			t.Errorf("Encryption = %q, Legacy = %v", got.Encryption, got.Legacy)
		}
	})
}

// TestPKCS12KDFVectors uses go-pkcs12's known answers for the RFC 7292 appendix B KDF,
// including the case where I_j gains a leading zero byte.
func TestPKCS12KDFVectors(t *testing.T) {
	if fips140.Enforced() {
		t.Skip("the known answers use SHA-1, which panics in FIPS 140-only mode")
	}
	tests := []struct {
		name     string
		password []byte
		salt     string
		want     string
	}{
		{"long key", must(kdfPassword("sesame")), "ffffffffffffffff", "7cd9fd3e2b3be7691a44e3bef0f9ea0fb9b897d4e325d9d1"},
		{"leading zero in I_j", []byte{0, 0}, "f37e05b518324b4b", "00f759ff47d14dd03665d5943cb3c4a39a2555c02aed66e1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pkcs12KDF(sha1.New, sha1.BlockSize, tt.password, must(hex.DecodeString(tt.salt)), 2048, kdfKey, 24)
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("key = %x, want %s", got, tt.want)
			}
		})
	}
}

// TestRC2DecryptsRFC2268Vectors runs the test vectors of RFC 2268 section 5 backwards.
func TestRC2DecryptsRFC2268Vectors(t *testing.T) {
	tests := []struct {
		key, plain, cipher string
		t1                 int
	}{
		{"0000000000000000", "0000000000000000", "ebb773f993278eff", 63},
		{"ffffffffffffffff", "ffffffffffffffff", "278b27e42e2f0d49", 64},
		{"3000000000000000", "1000000000000001", "30649edf9be7d2c2", 64},
		{"88", "0000000000000000", "61a8a244adacccf0", 64},
		{"88bca90e90875a", "0000000000000000", "6ccf4308974c267f", 64},
		{"88bca90e90875a7f0f79c384627bafb2", "0000000000000000", "1a807d272bbe5db1", 64},
		{"88bca90e90875a7f0f79c384627bafb2", "0000000000000000", "2269552ab0f85ca6", 128},
		{"88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e", "0000000000000000", "5b78d3a43dfff1f1", 129},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.cipher, func(t *testing.T) {
			got := make([]byte, 8)
			newRC2(must(hex.DecodeString(tt.key)), tt.t1).decryptBlock(got, must(hex.DecodeString(tt.cipher)))
			if hex.EncodeToString(got) != tt.plain {
				t.Errorf("decrypt = %x, want %s", got, tt.plain)
			}
		})
	}
}

func TestDecodeReadsUnencryptedAndNestedBags(t *testing.T) {
	ec := fixtures()["EC"]
	authSafe := plainAuthSafe(ec)
	salt := make([]byte, 16)
	macPassword := must(kdfPassword(testPassword))
	withMAC := cryptobyte.NewBuilder(nil)
	withMAC.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(3)
		b.AddBytes(dataContentInfo(authSafe))
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(algorithmID(oidSHA256, nullParams))
				b.AddASN1OctetString(pkcs12MAC(sha256.New, sha256.BlockSize, macPassword, salt, 1, authSafe))
			})
			b.AddASN1OctetString(salt)
			// iterations omitted: DEFAULT 1
		})
	})
	withoutMAC := sequence(asn1Int(3), dataContentInfo(authSafe))

	tests := []struct {
		name       string
		data       []byte
		encryption string
	}{
		{"MAC with default iteration count", withMAC.BytesOrPanic(), "no encryption, MAC HMAC-SHA256 (1 iteration)"},
		{"no MAC", withoutMAC, "no encryption, no MAC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.data, testPassword)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkKeys(t, got, ec.keyEntry("node-1"))
			checkTrusted(t, got, []TrustedCert{{"ca", ec.ca}})
			if got.Encryption != tt.encryption || len(got.Other) != 0 {
				t.Errorf("Encryption = %q, Other = %d; want %q, 0", got.Encryption, len(got.Other), tt.encryption)
			}
		})
	}
}
