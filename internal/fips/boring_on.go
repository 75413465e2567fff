//go:build boringcrypto

package fips

import "crypto/boring"

// boringEnabled reports whether BoringCrypto is really in use: a boringcrypto build
// with CGO_ENABLED=0 silently falls back to standard Go crypto.
func boringEnabled() bool { return boring.Enabled() }
