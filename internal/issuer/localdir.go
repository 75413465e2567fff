package issuer

import (
	"io"
	"time"

	"github.com/escert/escert/internal/cadir"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/spec"
)

// LoadLocal is the local issuer of the CAs of a CA directory (package cadir, which
// checks that each can issue at now's time).
func LoadLocal(dir string, password []byte, policy fips.Policy, rand io.Reader, now func() time.Time) (*Local, error) {
	return LoadLocalLayers(dir, []spec.Layer{spec.Transport, spec.HTTP}, password, policy, rand, now)
}

// LoadLocalLayers is LoadLocal for some layers only: a CA rotation's next/ directory
// may hold the new transport CA alone.
func LoadLocalLayers(dir string, layers []spec.Layer, password []byte, policy fips.Policy, rand io.Reader, now func() time.Time) (*Local, error) {
	cas, err := cadir.Load(dir, layers, password, policy, now())
	if err != nil {
		return nil, err
	}
	return &Local{CAs: cas, Policy: policy, Rand: rand, Now: now}, nil
}
