package stepca

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// step-ca's answers as v0.30.2 gives them (bodies copied from a real server's
// responses), and what escert makes of each.
func TestResponseErrorsNameTheCause(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		kind   error
		want   string
	}{
		{"policy refusal (HTTP 500 with the policy engine's error)", 500, `{"Name":"x.denied.test","NameType":"dns","Reason":1}`, ErrRefused, `does not allow the name "x.denied.test" ("dns")`},
		{"lifetime over the maximum", 403, `{"status":403,"message":"The request was forbidden by the certificate authority: requested duration of 10000h1m0s is more than the authorized maximum certificate duration of 720h1m0s."}`, ErrRefused, "maxTLSCertDuration"},
		{"expired certificate", 401, `{"status":401,"message":"The request lacked necessary authorization to be completed: certificate expired on 2026-11-27 09:00:00 +0000 UTC"}`, ErrExpired, "expired"},
		{"token refused", 401, `{"status":401,"message":"The request lacked necessary authorization to be completed. Please see the certificate authority logs for more info."}`, ErrRefused, "HTTP 401"},
		{"server failure", 502, "bad gateway", ErrUnreachable, "HTTP 502"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: c.status, Body: io.NopCloser(strings.NewReader(c.body))}
			err := responseError(resp, "sign", "escert")
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v (%T), want kind %v with %q", err, err, c.kind, c.want)
			}
		})
	}
}

// FuzzResponseError: whatever a server answers, the error is one bounded line.
func FuzzResponseError(f *testing.F) {
	f.Add(500, `{"Name":"a","NameType":"dns"}`)
	f.Add(401, `{"message":"x"}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		resp := &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body))}
		err := responseError(resp, "sign", "p")
		if err == nil || len(err.Error()) > 1000 || strings.ContainsAny(err.Error(), "\r\n") {
			t.Fatalf("error %v", err)
		}
	})
}
