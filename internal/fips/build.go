package fips

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// Build names the FIPS flavour this binary was built as, from the settings the Go
// toolchain records in it (what `go version -m` prints): "go-fips140" for GOFIPS140,
// "boringcrypto" for GOEXPERIMENT=boringcrypto, "" for a standard build.
func Build() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return buildFlavour(info.Settings)
}

func buildFlavour(settings []debug.BuildSetting) string {
	for _, s := range settings {
		switch {
		case s.Key == "GOFIPS140" && s.Value != "" && s.Value != "off":
			return "go-fips140"
		case s.Key == "GOEXPERIMENT" && strings.Contains(s.Value, "boringcrypto"):
			return "boringcrypto"
		}
	}
	return ""
}

// ErrModuleOff is returned when a FIPS build runs with its validated module switched
// off, the mistake that once shipped "FIPS" images which were not.
var ErrModuleOff = errors.New("FIPS module is off")

// CheckRuntime refuses to let a FIPS build do crypto work when its module is not in
// force: GODEBUG=fips140=off (or =on, which drops enforcement) on a Go FIPS 140-3
// build, or a BoringCrypto build whose BoringSSL is not in use.
func CheckRuntime() error { return checkRuntime(Build(), Current()) }

func checkRuntime(build string, mode Mode) error {
	switch build {
	case "go-fips140":
		if mode.Name != "go-fips140" || !mode.Enforced {
			return fmt.Errorf("%w: this is a FIPS 140-3 build of escert, but the module is not enforced (GODEBUG=%s?): unset GODEBUG or set GODEBUG=fips140=only", ErrModuleOff, "fips140=off or fips140=on")
		}
	case "boringcrypto":
		if mode.Name != "boringcrypto" {
			return fmt.Errorf("%w: this is a BoringCrypto build of escert, but BoringCrypto is not in use: rebuild with make fips-boring (CGO_ENABLED=1)", ErrModuleOff)
		}
	}
	return nil
}
