package esconfig

import (
	"fmt"
	"strings"
)

// FIPSGeneration is the FIPS 140 standard an Elasticsearch node's BouncyCastle FIPS
// providers are validated against: FIPS140_2 for bc-fips 1.0.2.x with bctls-fips
// 1.0.x, FIPS140_3 for bc-fips 2.x with bctls-fips and bcutil-fips 2.x, which
// Elasticsearch supports from 9.4.
type FIPSGeneration string

const (
	FIPS140_2 FIPSGeneration = "140-2"
	FIPS140_3 FIPSGeneration = "140-3"
)

// ParseFIPSGeneration reads --fips-generation.
func ParseFIPSGeneration(s string) (FIPSGeneration, error) {
	switch g := FIPSGeneration(strings.TrimPrefix(strings.ToLower(s), "fips")); g {
	case FIPS140_2, FIPS140_3:
		return g, nil
	}
	return "", fmt.Errorf("%q: use 140-2 (BouncyCastle FIPS 1.x) or 140-3 (BouncyCastle FIPS 2.x, Elasticsearch 9.4+)", s)
}

// DefaultFIPSGeneration is the generation a version runs best: 140-3 from 9.4, where
// Elasticsearch supports bc-fips 2.x, else 140-2.
func DefaultFIPSGeneration(v Version) FIPSGeneration {
	if v.AtLeast(9, 4, 0) {
		return FIPS140_3
	}
	return FIPS140_2
}

// CheckFIPSGeneration refuses a generation the version does not support.
func CheckFIPSGeneration(v Version, g FIPSGeneration) error {
	if g == FIPS140_3 && !v.AtLeast(9, 4, 0) {
		return fmt.Errorf("FIPS 140-3 (BouncyCastle FIPS 2.x) needs Elasticsearch 9.4 or later, not %s: use 140-2", v)
	}
	return nil
}

// RequiredProviders is xpack.security.fips_mode.required_providers for a node of
// version v on generation g: Elasticsearch then refuses to start unless BCFIPS and
// BCJSSE of that generation are installed, so a JVM that lost its FIPS configuration
// cannot serve in its place. The setting exists from 8.13 (nil before: an unknown
// setting stops a node). Version patterns ("BCFIPS:2*") are documented with 9.4 and
// were confirmed on a real 8.19.21 node; elsewhere the names alone are required.
func RequiredProviders(v Version, g FIPSGeneration) []string {
	switch {
	case v.AtLeast(9, 4, 0) || v.Major == 8 && v.AtLeast(8, 19, 21):
		major := map[FIPSGeneration]string{FIPS140_2: "1", FIPS140_3: "2"}[g]
		return []string{"BCFIPS:" + major + "*", "BCJSSE:" + major + "*"}
	case v.AtLeast(8, 13, 0):
		return []string{"BCFIPS", "BCJSSE"}
	}
	return nil
}

// FIPSCipherSuites are the suites a FIPS node's two layers offer: the AES-GCM suites of
// TLS 1.3 and 1.2, in Elasticsearch's default order. Elasticsearch's defaults add
// ChaCha20, which BCJSSE in FIPS mode lacks (each layer left on them logs an ERROR at
// start, seen on 9.5.4), and CBC suites with SHA-1 MACs, which a FIPS JVM still allows.
var FIPSCipherSuites = []string{
	"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
}
