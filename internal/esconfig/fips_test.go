package esconfig

import (
	"strings"
	"testing"
)

func TestRequiredProvidersFollowWhatEachVersionAccepts(t *testing.T) {
	cases := []struct {
		version    string
		generation FIPSGeneration
		want       string
	}{
		{"9.5.4", FIPS140_3, "BCFIPS:2*,BCJSSE:2*"},
		{"9.4", FIPS140_3, "BCFIPS:2*,BCJSSE:2*"},
		{"9.5.4", FIPS140_2, "BCFIPS:1*,BCJSSE:1*"},
		{"8.19.21", FIPS140_2, "BCFIPS:1*,BCJSSE:1*"}, // patterns confirmed on a real 8.19.21 node
		{"8.19.20", FIPS140_2, "BCFIPS,BCJSSE"},
		{"9.3.2", FIPS140_2, "BCFIPS,BCJSSE"},
		{"8.13", FIPS140_2, "BCFIPS,BCJSSE"},
		{"8.12.2", FIPS140_2, ""}, // no such setting yet: naming it would stop the node
		{"7.17.2", FIPS140_2, ""},
	}
	for _, tc := range cases {
		v, err := ParseVersion(tc.version)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(RequiredProviders(v, tc.generation), ","); got != tc.want {
			t.Errorf("RequiredProviders(%s, %s) = %q, want %q", tc.version, tc.generation, got, tc.want)
		}
	}
}

func TestFIPSGenerationDefaultsTo140_3From9_4AndRefusesItBefore(t *testing.T) {
	for version, want := range map[string]FIPSGeneration{"9.4.0": FIPS140_3, "9.5.4": FIPS140_3, "10.0": FIPS140_3, "9.3.9": FIPS140_2, "8.19.21": FIPS140_2} {
		v, _ := ParseVersion(version)
		if got := DefaultFIPSGeneration(v); got != want {
			t.Errorf("DefaultFIPSGeneration(%s) = %s, want %s", version, got, want)
		}
		if err := CheckFIPSGeneration(v, FIPS140_3); (err == nil) != (want == FIPS140_3) {
			t.Errorf("CheckFIPSGeneration(%s, 140-3) = %v", version, err)
		}
	}
	for _, s := range []string{"140-2", "140-3", "FIPS140-3", "fips140-2"} {
		if _, err := ParseFIPSGeneration(s); err != nil {
			t.Errorf("ParseFIPSGeneration(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "140", "140-4", "3"} {
		if _, err := ParseFIPSGeneration(s); err == nil {
			t.Errorf("ParseFIPSGeneration(%q) accepted it", s)
		}
	}
}

func TestParseVersionReadsMajorMinorPatchAndRefusesTheRest(t *testing.T) {
	for s, want := range map[string]Version{"8.15": {8, 15, 0}, "9.5.4": {9, 5, 4}, "007.17.2": {7, 17, 2}} {
		if got, err := ParseVersion(s); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "9", "9.x", "9.5.4.1", "v9.5", "9..1", "9.-1", "99999.1"} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) accepted it", s)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"8.15", "9.5.4", "", "1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if again, err := ParseVersion(v.String()); err != nil || again != v {
			t.Fatalf("%q parsed as %v, which does not round-trip: %v %v", s, v, again, err)
		}
	})
}
