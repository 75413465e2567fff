package posture

import "testing"

func TestPublishReadsTheNameToCheckAndTheAddressToDial(t *testing.T) {
	for _, tc := range []struct{ in, name, addr string }{
		{"127.0.0.1:9200", "127.0.0.1", "127.0.0.1:9200"},
		{"node1.example.com/10.0.0.11:9200", "node1.example.com", "10.0.0.11:9200"},
		{"[::1]:9300", "::1", "[::1]:9300"},
		{"/10.0.0.11:9200", "10.0.0.11", "10.0.0.11:9200"},
	} {
		if name, addr := publish(tc.in); name != tc.name || addr != tc.addr {
			t.Errorf("publish(%q) = %q, %q; want %q, %q", tc.in, name, addr, tc.name, tc.addr)
		}
	}
}

func TestNormalSerialMatchesInspectAndSSLCertificatesForms(t *testing.T) {
	// Leading zeros, colons and case must not make one serial two.
	if a, b := normalSerial("00:3A:B7"), normalSerial("3ab7"); a != b {
		t.Fatalf("%q != %q", a, b)
	}
}
