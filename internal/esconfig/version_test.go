package esconfig

import "testing"

func TestTrustFieldsSupportedFrom8_5_3And7_17_8(t *testing.T) {
	for v, want := range map[string]bool{
		"7.17.7": false, "7.17.8": true, "8.0": false, "8.5.2": false, "8.5.3": true, "8.14": true, "9.0": true, "6.8.23": false,
	} {
		parsed, err := ParseVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := TrustFieldsSupported(parsed); got != want {
			t.Errorf("TrustFieldsSupported(%s) = %v, want %v", v, got, want)
		}
	}
}
