package ca

import (
	"encoding/asn1"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// maxFuzzIterations bounds the PBKDF2 work of one fuzz input. The iteration count
// comes from the input; a mutated count in the billions would stall the fuzzer
// without finding anything a small count would not.
const maxFuzzIterations = 4096

// pemTypes are the block types ParseKeyPEM reads. FuzzParseKeyPEM wraps its input in
// one of them (or none), so that the fuzzer mutates DER directly instead of base64.
var pemTypes = []string{"", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"}

func FuzzParseKeyPEM(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.key"))
	if err != nil {
		f.Fatal(err)
	}
	password := []byte("fixture password 1234")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, password, uint8(0))
		f.Add(data, []byte(nil), uint8(0))
		for rest := data; ; {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				break
			}
			if i := slices.Index(pemTypes, block.Type); i > 0 {
				f.Add(block.Bytes, password, uint8(i))
			}
		}
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"), []byte(nil), uint8(0))
	// Structures that once crashed pemutil: a short IV, a ciphertext of partial blocks.
	block, _ := pem.Decode(fixture(f, "ec-p384-openssl-encrypted.key"))
	var info encryptedKeyInfo
	if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
		f.Fatal(err)
	}
	info.Algo.Params.Enc.IV = info.Algo.Params.Enc.IV[:8]
	f.Add(must(asn1.Marshal(info)), password, uint8(2))
	info.Algo.Params.Enc.IV = make([]byte, 16)
	info.Data = info.Data[:len(info.Data)-3]
	f.Add(must(asn1.Marshal(info)), password, uint8(2))
	f.Fuzz(func(t *testing.T, data, password []byte, typ uint8) {
		if name := pemTypes[int(typ)%len(pemTypes)]; name != "" {
			data = pem.EncodeToMemory(&pem.Block{Type: name, Bytes: data})
		}
		if costly(data) {
			t.Skip("PBKDF2 iteration count above the fuzzing bound")
		}
		key, err := ParseKeyPEM(data, password)
		if err != nil {
			if key != nil {
				t.Fatalf("ParseKeyPEM returned a key and an error: %v", err)
			}
			return
		}
		if key == nil || key.Public() == nil {
			t.Fatal("ParseKeyPEM returned no key and no error")
		}
	})
}

// costly reports whether the first encrypted key in data (the one ParseKeyPEM would
// decrypt) has a PBKDF2 iteration count above maxFuzzIterations.
func costly(data []byte) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if block.Type != "ENCRYPTED PRIVATE KEY" {
			continue
		}
		var info encryptedKeyInfo
		if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
			// encryptedKeyInfo is at least as lax as pemutil's structure: what it
			// cannot read, pemutil refuses before deriving any key.
			return false
		}
		return info.Algo.Params.KDF.Params.Iterations > maxFuzzIterations
	}
}

func FuzzParseCertificates(f *testing.F) {
	a := testAuthority(f, "p256-ca")
	leaf := sign(f, a, nodeLeaf(), testKey(f, "p256").Public())
	f.Add(EncodeCertificates(leaf, a.Cert))
	f.Add(leaf.Raw)
	f.Add(a.Cert.Raw)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err != nil {
			if certs != nil {
				t.Fatalf("ParseCertificates returned certificates and an error: %v", err)
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("ParseCertificates returned no certificate and no error")
		}
		for _, c := range certs {
			if c == nil {
				t.Fatal("nil certificate")
			}
			// Whatever parses must survive the code that reads escert's own names.
			_, _ = OtherNames(c)
			_ = Fingerprint(c)
		}
		again, err := ParseCertificates(EncodeCertificates(certs...))
		if err != nil || len(again) != len(certs) {
			t.Fatalf("re-encoded certificates do not parse: %d, %v", len(again), err)
		}
	})
}

func FuzzParseCSR(f *testing.F) {
	der, err := NewCSR(testRand(3), policy, nodeLeaf(), testKey(f, "p256"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err != nil {
			return
		}
		// What parses was signed by its own key: the only requests escert trusts.
		if csr.CheckSignature() != nil {
			t.Fatal("ParseCSR accepted a request whose signature does not verify")
		}
	})
}
