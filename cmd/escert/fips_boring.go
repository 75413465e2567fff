//go:build boringcrypto

package main

// A BoringCrypto build restricts TLS to FIPS-approved settings; escert's own policy
// (internal/fips) restricts everything else, since BoringCrypto enforces nothing
// outside TLS.
import _ "crypto/tls/fipsonly"
