package esapi_test

import (
	"strings"
	"testing"

	"github.com/escert/escert/internal/esapi"
)

func TestParseURLTakesOnlyAnHTTPSBaseURLWithoutCredentials(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "https://node1.example.com:9200", want: "https://node1.example.com:9200"},
		{in: "https://node1.example.com", want: "https://node1.example.com:9200"},
		{in: "https://[::1]:9201/", want: "https://[::1]:9201"},
		{in: "http://node1:9200", err: "https://"},
		{in: "https://elastic:secret@node1:9200", err: "must not carry a user or password"},
		{in: "https://node1:9200/_cluster/health", err: "without a path"},
		{in: "https://node1:9200?pretty", err: "without a path"},
		{in: "https://:9200", err: "no host"},
		{in: "node1:9200", err: "https://"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := esapi.ParseURL(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseURL(%q) = %v, %v; want an error mentioning %q", tc.in, u, err, tc.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("the error repeats the password: %v", err)
				}
				return
			}
			if err != nil || u.String() != tc.want {
				t.Fatalf("ParseURL(%q) = %v, %v; want %s", tc.in, u, err, tc.want)
			}
		})
	}
}

func TestResponseErrClassifiesStatuses(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{200, `{}`, ""},
		{401, `{}`, "refused the credentials"},
		{503, `{"error":{"reason":"no master"}}`, "unreachable: HTTP 503: no master"},
		{400, `{"error":{"reason":"bad password"}}`, "HTTP 400: bad password"},
		{404, "no handler\nmore", "HTTP 404: no handler"},
	} {
		err := (&esapi.Response{Status: tc.status, Body: []byte(tc.body)}).Err()
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("HTTP %d: %v, want %q", tc.status, err, tc.want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("https://node1:9200")
	f.Add("https://u:p@[::1]/x?y#z")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := esapi.ParseURL(s)
		if err != nil {
			return
		}
		if u.Scheme != "https" || u.User != nil || u.Port() == "" || u.Path != "" {
			t.Fatalf("ParseURL(%q) accepted %v", s, u)
		}
	})
}
