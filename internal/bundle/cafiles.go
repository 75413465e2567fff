package bundle

import (
	"fmt"
	"io"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/install"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

// CAFiles encodes a local issuer's CAs as the files of a CA directory (prefix "ca/" in a
// bootstrap, "" for `escert ca create`): certificates 0644, keys 0600 and encrypted
// with PBES2 when a password is given.
func CAFiles(l *issuer.Local, prefix string, rand io.Reader, password []byte) ([]install.File, error) {
	single := l.SingleCA()
	layers := []spec.Layer{spec.Transport, spec.HTTP}
	if single {
		layers = layers[:1]
	}
	var files []install.File
	for _, layer := range layers {
		a := l.CAs[layer]
		base := prefix + issuer.CAFileBase(layer, single)
		keyPEM, err := ca.MarshalKeyPEM(rand, a.Key, password)
		if err != nil {
			return nil, fmt.Errorf("%s CA key: %w", layer, err)
		}
		files = append(files,
			install.File{Path: base + ".crt", Mode: install.PublicMode, Data: ca.EncodeCertificates(a.Cert)},
			install.File{Path: base + ".key", Mode: install.SecretMode, Data: keyPEM},
		)
	}
	return files, nil
}
