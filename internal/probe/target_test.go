package probe

import (
	"strings"
	"testing"
)

func TestParseTargetTakesHostPortForms(t *testing.T) {
	cases := []struct {
		name, in         string
		host, port, addr string
	}{
		{"a host name gets the default port", "node1.escert.test", "node1.escert.test", "9200", "node1.escert.test:9200"},
		{"host and port", "node1.escert.test:9300", "node1.escert.test", "9300", "node1.escert.test:9300"},
		{"IPv4", "127.0.0.1", "127.0.0.1", "9200", "127.0.0.1:9200"},
		{"IPv4 and port", "127.0.0.1:9300", "127.0.0.1", "9300", "127.0.0.1:9300"},
		{"bare IPv6", "::1", "::1", "9200", "[::1]:9200"},
		{"bracketed IPv6", "[::1]", "::1", "9200", "[::1]:9200"},
		{"bracketed IPv6 and port", "[2001:db8::1]:9300", "2001:db8::1", "9300", "[2001:db8::1]:9300"},
		{"an https URL as elasticsearch.hosts lists it", "https://es01:9200/", "es01", "9200", "es01:9200"},
		{"an https URL without port", "HTTPS://es01", "es01", "9200", "es01:9200"},
		{"a port with a leading zero", "es01:09300", "es01", "9300", "es01:9300"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTarget(tc.in, "9200")
			if err != nil {
				t.Fatal(err)
			}
			if got.Host != tc.host || got.Port != tc.port || got.Address() != tc.addr || got.Input != tc.in {
				t.Errorf("got %+v (address %s)", got, got.Address())
			}
		})
	}
}

func TestParseTargetRefusesWhatCannotBeDialled(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", " ", "empty target"},
		{"a port that is not a number", "es01:https", `port "https"`},
		{"port 0", "es01:0", `port "0"`},
		{"a port too large", "es01:65536", `port "65536"`},
		{"no host", ":9200", "no host"},
		{"plain http", "http://es01:9200", "scheme http: probe speaks TLS only"},
		{"a path", "https://es01:9200/_cluster/health", "without path"},
		{"user info", "elastic@es01", "without path, user"},
		{"a space inside", "es 01", "without path, user or spaces"},
		{"IPv6 with an unbracketed port", "2001:db8::1:9300:x", "not an IPv6 address"},
		{"a character a host name cannot have", "es01!", `character '!'`},
		{"an empty label", "es01..test", "empty or over-long label"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTarget(tc.in, "9200")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
