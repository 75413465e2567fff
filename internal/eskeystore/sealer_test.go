package eskeystore

import (
	"bytes"
	"fmt"
	"testing"
)

// saltAndIV returns the salt and the IV of an encoded keystore (the layout
// assertLayout checks).
func saltAndIV(t *testing.T, data []byte, version int) (salt, iv []byte) {
	t.Helper()
	order := byteOrder(version)
	p := headerLen + 1 + 4 // header, hasPassword, data length
	n := int(order.Uint32(data[p:]))
	salt = data[p+4 : p+4+n]
	p += 4 + n
	n = int(order.Uint32(data[p:]))
	return salt, data[p+4 : p+4+n]
}

func TestSealerKeystoresShareTheSaltAndNotTheNonce(t *testing.T) {
	for _, version := range []int{4, 5, 6, 7} {
		for _, pc := range passwordCases {
			t.Run(fmt.Sprintf("v%d-%s", version, pc.name), func(t *testing.T) {
				skipEmptyPasswordUnderFIPS(t, pc.password)
				rand := testRand()
				s, err := NewSealer(pc.password, version, rand)
				if err != nil {
					t.Fatal(err)
				}
				var files [][]byte
				for node := range 3 {
					k := newTestKeystore(t, version)
					if err := k.Set("bootstrap.password", fmt.Appendf(nil, "node-%d", node)); err != nil {
						t.Fatal(err)
					}
					data, err := k.Seal(s, rand)
					if err != nil {
						t.Fatal(err)
					}
					assertLayout(t, data, version, len(pc.password) > 0)
					got, err := Decode(data, pc.password)
					if err != nil {
						t.Fatalf("node %d: Decode of a sealed keystore: %v", node, err)
					}
					if v, _ := got.Get("bootstrap.password"); string(v) != fmt.Sprintf("node-%d", node) {
						t.Errorf("node %d: bootstrap.password = %q", node, v)
					}
					files = append(files, data)
				}
				salt0, iv0 := saltAndIV(t, files[0], version)
				for i, f := range files[1:] {
					salt, iv := saltAndIV(t, f, version)
					if !bytes.Equal(salt, salt0) {
						t.Errorf("file %d: salt differs from file 0's: one Sealer must derive one key", i+1)
					}
					if bytes.Equal(iv, iv0) {
						t.Errorf("file %d: same GCM nonce as file 0 under the same key", i+1)
					}
				}
			})
		}
	}
}

func TestEncodeDerivesAFreshSaltEachTime(t *testing.T) {
	k := newTestKeystore(t, 6)
	rand := testRand()
	a, err := k.Encode(testPassword, rand)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Encode(testPassword, rand)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := saltAndIV(t, a, 6)
	sb, _ := saltAndIV(t, b, 6)
	if bytes.Equal(sa, sb) {
		t.Error("two Encode calls wrote the same salt: a keystore written on its own must get its own")
	}
}

func TestSealRefusesAMismatchedVersionOrAClearedKey(t *testing.T) {
	s, err := NewSealer(testPassword, 6, testRand())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newTestKeystore(t, 7).Seal(s, testRand()); err == nil {
		t.Error("Seal of a version 7 keystore with a version 6 key succeeded; the versions derive differently")
	}
	s.Clear()
	if _, err := newTestKeystore(t, 6).Seal(s, testRand()); err == nil {
		t.Error("Seal after Clear succeeded")
	}
}

func TestNewSealerRefusesUnknownVersionAndReportsRandFailure(t *testing.T) {
	for _, version := range []int{2, 8} {
		if _, err := NewSealer(testPassword, version, testRand()); err == nil {
			t.Errorf("NewSealer(version %d) succeeded", version)
		}
	}
	if _, err := NewSealer(testPassword, 6, errReader{}); err == nil {
		t.Error("NewSealer with a failing rand succeeded")
	}
}
