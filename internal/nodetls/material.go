package nodetls

import (
	"bytes"
	"crypto"
	"strings"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/p12"
)

// Loading a layer's material is in steps, each failing on its own, so that check can
// name every fault of a layer and renewal the first: Read fails as infile.Read does
// (fs.ErrNotExist, fs.ErrPermission, infile.ErrTooLarge inside an *fs.PathError),
// Decode with p12.ErrWrongPassword, DecodeKey with ca.ErrKeyPassword.

// Read reads the file, bounded by what it holds.
func (f File) Read() ([]byte, error) { return infile.Read(f.Path, f.Kind) }

// Decode opens a PKCS#12 store's bytes with the password Elasticsearch uses.
func (s Store) Decode(data []byte) (*p12.Contents, error) { return p12.Decode(data, s.Password.Value) }

// javaKeystoreMagic starts JKS and JCEKS files.
var javaKeystoreMagic = [][]byte{{0xfe, 0xed, 0xfe, 0xed}, {0xce, 0xce, 0xce, 0xce}}

// JavaOnly reports a store in a format only Java reads (JKS, JCEKS, BCFKS): by its
// type setting, or by its first bytes.
func (s Store) JavaOnly(data []byte) bool {
	switch strings.ToLower(s.Type) {
	case "jks", "bcfks", "jceks":
		return true
	}
	return len(data) >= 4 && (bytes.Equal(data[:4], javaKeystoreMagic[0]) || bytes.Equal(data[:4], javaKeystoreMagic[1]))
}

// DecodeKey decodes the layer's PEM key with its passphrase.
func (l Layer) DecodeKey(data []byte) (crypto.Signer, error) {
	return ca.ParseKeyPEM(data, []byte(l.KeyPassphrase.Value))
}
