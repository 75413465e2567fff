package stepca

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/issuer/issuertest"
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

// TestSentinelsCarryTheirFaultKind: every class of step-ca failure gives the CLI its
// exit code through fault.KindOf, and errors.Is still tells the classes apart.
func TestSentinelsCarryTheirFaultKind(t *testing.T) {
	issuertest.CheckClasses(t, []issuertest.Class{
		{Sentinel: ErrUnknownProvisioner, Kind: fault.Input},
		{Sentinel: ErrWrongPassword, Kind: fault.Credentials},
		{Sentinel: ErrFingerprint, Kind: fault.Input},
		{Sentinel: ErrRefused, Kind: fault.Refused},
		{Sentinel: ErrExpired, Kind: fault.Input},
		{Sentinel: ErrNoProvisioner, Kind: fault.Usage},
		{Sentinel: ErrUnreachable, Kind: fault.Unavailable},
		{Sentinel: ErrTLS, Kind: fault.Input},
	})
}

// TestMalformedFingerprintIsBadInput: a --fingerprint that is not 64 hex digits is
// refused before anything is sent, as input naming the flag and how to get it right.
func TestMalformedFingerprintIsBadInput(t *testing.T) {
	for _, fp := range []string{"abc", strings.Repeat("z", 64), strings.Repeat("a", 66)} {
		_, err := New(context.Background(), Config{URL: "https://127.0.0.1:1", Fingerprint: fp})
		if fault.KindOf(err) != fault.Input || !strings.Contains(err.Error(), "--fingerprint") || !strings.Contains(err.Error(), "64 hex digits") {
			t.Errorf("fingerprint %q: err = %v (kind %v), want input naming --fingerprint and 64 hex digits", fp, err, fault.KindOf(err))
		}
	}
}

// TestCancelledContextIsAnInterruption: a request the context stopped is an
// interruption wrapping context.Canceled, not an unreachable CA.
func TestCancelledContextIsAnInterruption(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New(ctx, Config{URL: "https://127.0.0.1:1", Fingerprint: strings.Repeat("ab", 32)})
	if !errors.Is(err, context.Canceled) || fault.KindOf(err) != fault.Interrupted || errors.Is(err, ErrUnreachable) {
		t.Errorf("err = %v (kind %v), want an interruption wrapping context.Canceled", err, fault.KindOf(err))
	}
}
