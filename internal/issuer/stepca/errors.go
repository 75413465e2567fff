package stepca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/issuer"
)

// The classes of failure callers tell apart with errors.Is, each of the fault kind
// that decides the CLI's exit code. The sentinels only classify; the message of every
// error this package returns says what to do.
var (
	// ErrUnknownProvisioner: the CA has no JWK provisioner of that name.
	ErrUnknownProvisioner = fault.Sentinel(fault.Input, "unknown step-ca provisioner")
	// ErrWrongPassword: the password does not decrypt the provisioner's key.
	ErrWrongPassword = fault.Sentinel(fault.Credentials, "wrong provisioner password")
	// ErrFingerprint: the CA's root is not the one --root or --fingerprint names.
	ErrFingerprint = fault.Sentinel(fault.Input, "step-ca root fingerprint mismatch")
	// ErrRefused: the CA refused the request (a name its policy does not allow, a
	// lifetime outside the provisioner's claims, a token it does not accept), or the
	// certificate lacks what was asked for.
	ErrRefused = fault.Sentinel(fault.Refused, "step-ca refused the certificate")
	// ErrExpired: step-ca renews only certificates that have not expired; the way out
	// is a new certificate from a provisioner, so the expired one is bad input.
	ErrExpired = fault.Sentinel(fault.Input, "the certificate has expired")
	// ErrNoProvisioner: first issuance needs a provisioner; only renewal works without.
	ErrNoProvisioner = fault.Sentinel(fault.Usage, "no provisioner given")
	// ErrUnreachable: no answer from the CA: retry later.
	ErrUnreachable = fault.Sentinel(fault.Unavailable, "step-ca unreachable")
	// ErrTLS: the CA answered with a certificate for another host name, or not in TLS:
	// --ca-url is wrong, and retrying cannot help.
	ErrTLS = fault.Sentinel(fault.Input, "step-ca TLS failure")
)

// newError is issuer.Errorf: every error of this package for the sentinels above is
// an *issuer.Error.
var newError = issuer.Errorf

// apiError is step-ca's JSON error body.
type apiError struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// transportError names why the CA could not be reached.
func transportError(ctx context.Context, base, what string, err error) error {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var recordHeader tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown):
		return newError(ErrFingerprint, err, "%s: %s's TLS certificate is not from the root given (--root or --fingerprint): is this the right CA?", what, base)
	case errors.As(err, &hostname):
		return newError(ErrTLS, err, "%s: %s's TLS certificate does not cover that host name: use the address in the CA's dnsNames", what, base)
	case errors.As(err, &recordHeader):
		return newError(ErrTLS, err, "%s: %s does not speak TLS: step-ca's URL starts with https://", what, base)
	case ctx.Err() != nil:
		// Stopped here (Ctrl-C, or the caller's deadline), not turned away by the CA.
		return issuer.Stopped(ctx, fmt.Errorf("%s: %w", what, ctx.Err()))
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return newError(ErrUnreachable, err, "%s: cannot connect to step-ca at %s (%v): is it running, and is --ca-url right?", what, base, opErr.Err)
	}
	return newError(ErrUnreachable, err, "%s: cannot reach step-ca at %s: %v", what, base, err)
}

// responseError classifies a non-2xx answer. step-ca says why in its message; the
// hint says what to change.
func responseError(resp *http.Response, what string, provisioner string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e apiError
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	// step-ca v0.30 answers a policy refusal with HTTP 500 and its policy engine's
	// NamePolicyError as the body: {"Name":"x.example","NameType":"dns","Reason":1}.
	var denied struct{ Name, NameType string }
	if json.Unmarshal(body, &denied) == nil && denied.Name != "" && denied.NameType != "" {
		return newError(ErrRefused, nil, "%s: step-ca's policy does not allow the name %q (%q): allow it in the x509 policy of provisioner %q (or of the authority), or leave it out of instances.yml", what, denied.Name, denied.NameType, provisioner)
	}
	msg = strings.Join(strings.Fields(msg), " ") // one line, whatever the server sent
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "policy") || strings.Contains(lower, "not allowed"):
		return newError(ErrRefused, nil, "%s: step-ca's policy refused a name (%s): allow it in the x509 policy of provisioner %q (options.x509.allow) or of the authority, or leave the name out of instances.yml", what, msg, provisioner)
	case strings.Contains(lower, "duration") || strings.Contains(lower, "notafter"):
		return newError(ErrRefused, nil, "%s: %s: the lifetime must lie within provisioner %q's claims (minTLSCertDuration..maxTLSCertDuration); drop --days to take its default", what, msg, provisioner)
	case strings.Contains(lower, "expired"):
		return newError(ErrExpired, nil, "%s: %s", what, msg)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return newError(ErrRefused, nil, "%s: step-ca refused (HTTP %d): %s", what, resp.StatusCode, msg)
	case resp.StatusCode >= 500:
		return newError(ErrUnreachable, nil, "%s: step-ca failed (HTTP %d): %s", what, resp.StatusCode, msg)
	}
	return newError(ErrRefused, nil, "%s: step-ca answered HTTP %d: %s", what, resp.StatusCode, msg)
}
