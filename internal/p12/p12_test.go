package p12

import (
	"bytes"
	"crypto/fips140"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/escert/escert/internal/fault"
)

// roundTripCases are the entries of escert's files and their variations.
func roundTripCases() []struct {
	name    string
	key     *KeyEntry
	trusted []TrustedCert
} {
	ec, rsa := fixtures()["EC"], fixtures()["RSA"]
	return []struct {
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
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, tt := range roundTripCases() {
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
			want := wantEncryption
			if tt.key == nil {
				want = wantTrustEncryption
			}
			if got.Encryption != want || got.Legacy || got.Unverified {
				t.Errorf("Encryption = %q, Legacy = %v, Unverified = %v; want %q, false, false", got.Encryption, got.Legacy, got.Unverified, want)
			}
		})
	}
}

func TestCertificatesReadsEncodedFilesWithoutThePassword(t *testing.T) {
	for _, tt := range roundTripCases() {
		t.Run(tt.name, func(t *testing.T) {
			data := must(Encode(rand.Reader, testPassword, tt.key, tt.trusted))
			got, err := Certificates(data)
			if err != nil {
				t.Fatalf("Certificates: %v", err)
			}
			checkChains(t, got, tt.key)
			checkTrusted(t, got, tt.trusted)
			if len(got.Other) != 0 {
				t.Errorf("Other = %d certificates, want none", len(got.Other))
			}
			// The same description as Decode gives, from the algorithm identifiers alone.
			want := must(Decode(data, testPassword)).Encryption
			if got.Encryption != want || got.Legacy || !got.Unverified {
				t.Errorf("Encryption = %q, Legacy = %v, Unverified = %v; want %q, false, true", got.Encryption, got.Legacy, got.Unverified, want)
			}
		})
	}
}

// checkChains is checkKeys for Certificates: aliases and chains, and no key.
func checkChains(t *testing.T, got *Contents, want *KeyEntry) {
	t.Helper()
	checkEntry(t, got, want, false)
}

func TestCertificatesRefusesEncryptedCertificatesWithErrEncrypted(t *testing.T) {
	ec := fixtures()["EC"]
	tests := []struct {
		name string
		data []byte
	}{
		{"escert's layout before issue 14", withEncryptedCerts(t, must(Encode(rand.Reader, testPassword, ec.keyEntry("node-1"), []TrustedCert{{"ca", ec.ca}})), testPassword)},
		{"truststore with encrypted certificates", withEncryptedCerts(t, must(Encode(rand.Reader, testPassword, nil, []TrustedCert{{"ca", ec.ca}})), testPassword)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The file itself is sound: the password opens it.
			if _, err := Decode(tt.data, testPassword); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			c, err := Certificates(tt.data)
			if !errors.Is(err, ErrEncrypted) || fault.KindOf(err) != fault.Input {
				t.Fatalf("Certificates = %+v, %v (kind %v); want ErrEncrypted of kind Input", c, err, fault.KindOf(err))
			}
		})
	}
}

// TestCertificatesWithoutLocalKeyIDLeavesTheChainEmpty: only the decrypted key tells
// which certificate is its leaf when the bags share no localKeyId, so Certificates
// returns the entry with its alias and the certificates among the others.
func TestCertificatesWithoutLocalKeyIDLeavesTheChainEmpty(t *testing.T) {
	ec := fixtures()["EC"]
	data := sequence(asn1Int(3), dataContentInfo(plainAuthSafe(ec, false)))
	got, err := Certificates(data)
	if err != nil {
		t.Fatalf("Certificates: %v", err)
	}
	if len(got.Keys) != 1 || got.Keys[0].Alias != "node-1" || len(got.Keys[0].Chain) != 0 || len(got.Other) != 2 {
		t.Errorf("Keys = %+v, Other = %d certificates; want node-1 without chain and leaf and CA in Other", got.Keys, len(got.Other))
	}
	checkTrusted(t, got, []TrustedCert{{"ca", ec.ca}})
	// Decode finds the leaf through the key.
	checkKeys(t, must(Decode(data, testPassword)), ec.keyEntry("node-1"))
}

// TestCertificatesDoesNotVerifyTheMAC shows what Unverified means: a file whose MAC
// is wrong still reads, where Decode refuses it.
func TestCertificatesDoesNotVerifyTheMAC(t *testing.T) {
	ec := fixtures()["EC"]
	data := must(Encode(rand.Reader, testPassword, ec.keyEntry("node-1"), nil))
	// The file ends with the MAC, the salt (an OCTET STRING of saltLen bytes) and the
	// iteration count (INTEGER 2048: 4 bytes); flip the MAC's last bit.
	data[len(data)-4-(2+saltLen)-1] ^= 1
	if _, err := Decode(data, testPassword); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("Decode of a file with a broken MAC: %v, want ErrWrongPassword", err)
	}
	got, err := Certificates(data)
	if err != nil {
		t.Fatalf("Certificates: %v", err)
	}
	if !got.Unverified {
		t.Error("Unverified = false for contents whose MAC nobody checked")
	}
	checkChains(t, got, ec.keyEntry("node-1"))
}

// TestCertificatesKeepsDecodesLimits: with no key derivation to pay for, Certificates
// still refuses the files Decode refuses for their cost or size.
func TestCertificatesKeepsDecodesLimits(t *testing.T) {
	ec := fixtures()["EC"]
	data := must(Encode(rand.Reader, testPassword, ec.keyEntry("node-1"), []TrustedCert{{"ca", ec.ca}}))
	tests := []struct {
		name string
		data []byte
		lim  limits
		want string
	}{
		{"iterations above the per-derivation limit", data, limits{iterations: Iterations - 1, work: defaultLimits.work}, "KDF iterations (Java accepts"},
		// The MAC and the key each cost Iterations times one hash block.
		{"work above the per-file limit", data, limits{iterations: Iterations, work: 2*Iterations - 1}, "KDF iterations in total"},
		{"larger than any PKCS#12 file", make([]byte, maxInputLen+1), defaultLimits, "is larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, decErr := decode(tt.data, testPassword, tt.lim)
			_, certErr := certificates(tt.data, tt.lim)
			for name, err := range map[string]error{"decode": decErr, "certificates": certErr} {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: %v, want an error saying %q", name, err, tt.want)
				}
			}
		})
	}
}

// TestEncodeEncryptsOnlyTheKey walks Encode's output as ASN.1, apart from the decoder:
// no encryptedData safe, one PBES2-shrouded key bag when there is a key, and every
// iteration count (PBKDF2 and MAC) Iterations, which is 2048.
func TestEncodeEncryptsOnlyTheKey(t *testing.T) {
	if Iterations != 2048 {
		t.Errorf("Iterations = %d, want 2048 (OpenSSL 3's and go-pkcs12's default)", Iterations)
	}
	ec := fixtures()["EC"]
	tests := []struct {
		name         string
		key          *KeyEntry
		trusted      []TrustedCert
		shrouded     int
		certificates int
	}{
		{"key entry and trusted CA", ec.keyEntry("node-1"), []TrustedCert{{"ca", ec.ca}}, 1, 3},
		{"truststore only", nil, []TrustedCert{{"ca", ec.ca}}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := must(Encode(rand.Reader, testPassword, tt.key, tt.trusted))
			iterations := []int64{macIterations(t, data)}
			var encrypted, shrouded, certificates int
			for _, safe := range safesOf(t, data) {
				s := cryptobyte.String(safe)
				var info, explicit, content, bags cryptobyte.String
				var oid asn1.ObjectIdentifier
				if !s.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1ObjectIdentifier(&oid) || !info.ReadASN1(&explicit, tagExplicit0) {
					t.Fatal("malformed ContentInfo")
				}
				if !oid.Equal(oidData) {
					encrypted++
					continue
				}
				if !explicit.ReadASN1(&content, cbasn1.OCTET_STRING) || !content.ReadASN1(&bags, cbasn1.SEQUENCE) {
					t.Fatal("malformed data safe")
				}
				for !bags.Empty() {
					var bag, value cryptobyte.String
					var bagType asn1.ObjectIdentifier
					if !bags.ReadASN1(&bag, cbasn1.SEQUENCE) || !bag.ReadASN1ObjectIdentifier(&bagType) || !bag.ReadASN1(&value, tagExplicit0) {
						t.Fatal("malformed SafeBag")
					}
					switch {
					case bagType.Equal(oidShroudedKeyBag):
						shrouded++
						iterations = append(iterations, pbes2Iterations(t, value))
					case bagType.Equal(oidCertBag):
						certificates++
					default:
						t.Errorf("unexpected bag %s", bagType)
					}
				}
			}
			if encrypted != 0 || shrouded != tt.shrouded || certificates != tt.certificates {
				t.Errorf("%d encrypted safes, %d shrouded keys, %d certificates in plain safes; want 0, %d, %d",
					encrypted, shrouded, certificates, tt.shrouded, tt.certificates)
			}
			for _, n := range iterations {
				if n != Iterations {
					t.Errorf("iteration counts %v, want all %d", iterations, Iterations)
					break
				}
			}
		})
	}
}

// macIterations reads the iteration count of a PFX's MacData.
func macIterations(t *testing.T, pfx []byte) int64 {
	t.Helper()
	s := cryptobyte.String(pfx)
	var seq, macData cryptobyte.String
	var n int64
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.SkipASN1(cbasn1.INTEGER) || !seq.SkipASN1(cbasn1.SEQUENCE) ||
		!seq.ReadASN1(&macData, cbasn1.SEQUENCE) || !macData.SkipASN1(cbasn1.SEQUENCE) ||
		!macData.SkipASN1(cbasn1.OCTET_STRING) || !macData.ReadASN1Integer(&n) {
		t.Fatal("malformed MacData")
	}
	return n
}

// pbes2Iterations reads the PBKDF2 iteration count of an EncryptedPrivateKeyInfo
// protected with PBES2.
func pbes2Iterations(t *testing.T, epki cryptobyte.String) int64 {
	t.Helper()
	var seq, alg, params, kdf, kdfParams cryptobyte.String
	var algOID, kdfOID asn1.ObjectIdentifier
	var n int64
	if !epki.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&algOID) || !algOID.Equal(oidPBES2) ||
		!alg.ReadASN1(&params, cbasn1.SEQUENCE) || !params.ReadASN1(&kdf, cbasn1.SEQUENCE) ||
		!kdf.ReadASN1ObjectIdentifier(&kdfOID) || !kdfOID.Equal(oidPBKDF2) ||
		!kdf.ReadASN1(&kdfParams, cbasn1.SEQUENCE) || !kdfParams.SkipASN1(cbasn1.OCTET_STRING) ||
		!kdfParams.ReadASN1Integer(&n) {
		t.Fatal("the key bag is not PBES2 with PBKDF2")
	}
	return n
}

func checkKeys(t *testing.T, got *Contents, want *KeyEntry) {
	t.Helper()
	checkEntry(t, got, want, true)
}

// checkEntry compares the one key entry of got with want: its alias and chain, and its
// key when keyed (else it must have none, as Certificates returns it).
func checkEntry(t *testing.T, got *Contents, want *KeyEntry, keyed bool) {
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
	switch {
	case !keyed && k.Key != nil:
		t.Errorf("Certificates returned a private key")
	case keyed && !equalKeys(k.Key, want.Key):
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
			if c, err := Certificates(tt.data); err == nil {
				t.Fatalf("Certificates succeeded with %+v", c)
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
	authSafe := plainAuthSafe(ec, true)
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

			certs, err := Certificates(tt.data)
			if err != nil {
				t.Fatalf("Certificates: %v", err)
			}
			checkChains(t, certs, ec.keyEntry("node-1"))
			checkTrusted(t, certs, []TrustedCert{{"ca", ec.ca}})
			if certs.Encryption != tt.encryption || len(certs.Other) != 0 {
				t.Errorf("Certificates: Encryption = %q, Other = %d; want %q, 0", certs.Encryption, len(certs.Other), tt.encryption)
			}
		})
	}
}
