//go:build !boringcrypto

package fips

// boringEnabled is false in builds without GOEXPERIMENT=boringcrypto, where the
// crypto/boring package does not exist.
func boringEnabled() bool { return false }
