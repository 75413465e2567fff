package p12

import (
	"crypto/hmac"
	"hash"
)

// Diversifier IDs of the RFC 7292 appendix B.3 KDF.
const (
	kdfKey byte = 1
	kdfIV  byte = 2
	kdfMAC byte = 3
)

// pkcs12KDF is the key derivation of RFC 7292 appendix B.2. password is the BMPString
// with its two zero bytes (see kdfPassword); v is the hash's block size in bytes. Java
// and OpenSSL derive the MAC key with it even in otherwise PBES2-protected files, so
// escert needs it with SHA-256; the SHA-1 forms are only for reading legacy files.
func pkcs12KDF(newHash func() hash.Hash, v int, password, salt []byte, iterations int, id byte, size int) []byte {
	// Steps 1-4: D = v copies of id, I = S || P, each stretched to a multiple of v.
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	in := append(fill(salt, v), fill(password, v)...)

	h := newHash()
	out := make([]byte, 0, size+h.Size())
	b := make([]byte, v)
	for len(out) < size {
		// Step 6a: A = H^r(D || I).
		h.Reset()
		h.Write(d)
		h.Write(in)
		a := h.Sum(nil)
		for j := 1; j < iterations; j++ {
			h.Reset()
			h.Write(a)
			a = h.Sum(a[:0])
		}
		out = append(out, a...)
		if len(out) >= size {
			break
		}
		// Steps 6b-6c: B = A repeated to v bytes; every v-byte block I_j = (I_j + B + 1) mod 2^(8v).
		for k := range b {
			b[k] = a[k%len(a)]
		}
		for j := 0; j < len(in); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				sum := int(in[j+k]) + int(b[k]) + carry
				in[j+k] = byte(sum)
				carry = sum >> 8
			}
		}
	}
	return out[:size]
}

// fill repeats x to the shortest multiple of v bytes that holds it (RFC 7292 B.2
// steps 2-3); empty stays empty.
func fill(x []byte, v int) []byte {
	n := v * ((len(x) + v - 1) / v)
	out := make([]byte, n)
	for i := range out {
		out[i] = x[i%len(x)]
	}
	return out
}

// pkcs12MAC computes the integrity MAC of RFC 7292 section 5.1: HMAC keyed with the
// appendix B KDF (ID 3), the key being as long as the hash output.
func pkcs12MAC(newHash func() hash.Hash, v int, password, salt []byte, iterations int, message []byte) []byte {
	key := pkcs12KDF(newHash, v, password, salt, iterations, kdfMAC, newHash().Size())
	mac := hmac.New(newHash, key)
	mac.Write(message)
	return mac.Sum(nil)
}
