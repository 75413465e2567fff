//go:build escertfips

//go:debug fips140=only

package main

// Built with -tags escertfips (make fips, together with GOFIPS140=v1.0.0), escert
// enforces the FIPS 140-3 module: any non-approved algorithm fails instead of running.
