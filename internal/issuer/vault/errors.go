package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/hashicorp/vault/api"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/issuer"
)

// The classes of failure callers tell apart with errors.Is, each of the fault kind
// that decides the CLI's exit code. Every error this package returns for them is an
// *issuer.Error whose message says what to do; the sentinels only classify.
var (
	// ErrSealed: Vault answered that it is sealed. Not retried: someone must unseal it.
	ErrSealed = fault.Sentinel(fault.Unavailable, "vault is sealed")
	// ErrPermissionDenied: the token's policies do not grant the path. The fix is the
	// credentials' grant, so it is a credentials fault.
	ErrPermissionDenied = fault.Sentinel(fault.Credentials, "vault permission denied")
	// ErrLogin: the credentials were refused (an invalid or expired token, a wrong
	// AppRole role ID or secret ID) or could not be read.
	ErrLogin = fault.Sentinel(fault.Credentials, "vault login failed")
	// ErrRoleRefused: the PKI role refused the request (a name, key or lifetime it does
	// not allow), or the certificate it issued lacks what was asked for.
	ErrRoleRefused = fault.Sentinel(fault.Refused, "vault role refused the certificate")
	// ErrUnreachable: no answer from Vault (connection refused, DNS, reset, timeout),
	// after the retries.
	ErrUnreachable = fault.Sentinel(fault.Unavailable, "vault unreachable")
	// ErrTLS: the TLS connection to Vault failed (an unknown CA, a wrong host name, a
	// plain-HTTP server behind an https address): the CA file or the address the
	// operator gave is wrong.
	ErrTLS = fault.Sentinel(fault.Input, "vault TLS failure")
)

// newError is issuer.Errorf: every error of this package for the sentinels above is
// an *issuer.Error.
var newError = issuer.Errorf

// classify turns a failed attempt into an operator's error, and says whether it is
// worth retrying. resp may be nil (no HTTP answer).
func (i *Issuer) classify(ctx context.Context, r request, resp *api.Response, err error) outcome {
	if ctx.Err() != nil {
		return outcome{err: issuer.Stopped(ctx, fmt.Errorf("%s at Vault %s: %w", r.what, i.addr, ctx.Err()))}
	}
	var respErr *api.ResponseError
	if errors.As(err, &respErr) {
		return i.classifyResponse(r, resp, respErr)
	}
	return i.classifyTransport(r, err)
}

func (i *Issuer) classifyResponse(r request, resp *api.Response, re *api.ResponseError) outcome {
	msg := vaultMessage(re)
	lower := strings.ToLower(msg)
	code := re.StatusCode
	switch {
	case code == http.StatusServiceUnavailable && strings.Contains(lower, "sealed"):
		return outcome{err: newError(ErrSealed, re, "Vault at %s is sealed: unseal it (vault operator unseal) and run again", i.addr)}
	case code == http.StatusTooManyRequests, code >= 500 && code != http.StatusNotImplemented:
		return outcome{
			err:        fmt.Errorf("%s: Vault at %s answered %d: %s", r.what, i.addr, code, msg),
			transient:  true,
			retryAfter: retryAfter(resp),
		}
	case code == http.StatusForbidden && (r.login || strings.Contains(lower, "invalid token")):
		return outcome{err: newError(ErrLogin, re, "%s: Vault at %s refused the credentials (%s): give a valid, unexpired token or AppRole secret ID", r.what, i.addr, msg)}
	case code == http.StatusForbidden:
		hint := ""
		if r.method == http.MethodGet {
			hint = fmt.Sprintf(" (or nothing is mounted at %s)", r.mount)
		}
		return outcome{err: newError(ErrPermissionDenied, re,
			"%s: Vault at %s denied %s to this token: grant it a policy with\n  path %q { capabilities = [%q] }%s",
			r.what, i.addr, r.path, r.path, r.capability(), hint)}
	case r.login && code == http.StatusBadRequest:
		return outcome{err: newError(ErrLogin, re, "%s: Vault at %s refused the credentials: %s", r.what, i.addr, msg)}
	case code == http.StatusBadRequest && r.role != nil:
		return outcome{err: newError(ErrRoleRefused, re, "%s: Vault role %q at mount %q refused it: %s%s", r.what, r.role.Name, r.role.Mount, msg, roleHint(*r.role, msg))}
	case code == http.StatusNotFound && strings.Contains(lower, "no handler for route"):
		return outcome{err: fmt.Errorf("%s: Vault at %s has nothing mounted at %s: enable the secrets engine there (vault secrets enable -path=%s pki) or fix the mount name", r.what, i.addr, r.mount, r.mount)}
	}
	return outcome{err: fmt.Errorf("%s: Vault at %s answered %d: %s", r.what, i.addr, code, msg)}
}

func (i *Issuer) classifyTransport(r request, err error) outcome {
	var (
		verifyErr   *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		dnsErr      *net.DNSError
		opErr       *net.OpError
	)
	switch {
	case errors.As(err, &verifyErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return outcome{err: newError(ErrTLS, err, "%s: cannot verify the TLS certificate of Vault at %s: %v: give Vault's CA certificate with VAULT_CACERT", r.what, i.addr, rootCause(err))}
	case errors.As(err, &recordErr):
		return outcome{err: newError(ErrTLS, err, "%s: Vault at %s does not speak TLS: use an http:// address, or fix the port", r.what, i.addr)}
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return outcome{err: newError(ErrTLS, err, "%s: Vault at %s answered in plain HTTP: use an http:// address", r.what, i.addr)}
	case errors.As(err, &dnsErr):
		// A name that does not resolve now may resolve in a moment (a restarting
		// resolver); a typo fails the same way after the retries.
		return outcome{err: newError(ErrUnreachable, err, "%s: cannot resolve the host of Vault at %s: %v", r.what, i.addr, rootCause(err)), transient: dnsErr.IsTemporary || dnsErr.IsTimeout}
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &opErr) && opErr.Op == "dial":
		return outcome{err: newError(ErrUnreachable, err, "%s: cannot connect to Vault at %s: %v", r.what, i.addr, rootCause(err)), transient: true}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.EPIPE),
		// net/http does not retry a PUT on a kept-alive connection that the server
		// closed as the request went out (a Vault stopping); its error is unexported.
		strings.Contains(err.Error(), "server closed idle connection"):
		return outcome{err: newError(ErrUnreachable, err, "%s: Vault at %s dropped the connection: %v", r.what, i.addr, rootCause(err)), transient: true}
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return outcome{err: newError(ErrUnreachable, err, "%s: no answer from Vault at %s within %v", r.what, i.addr, i.timeout), transient: true}
	}
	return outcome{err: fmt.Errorf("%s at Vault %s: %w", r.what, i.addr, err)}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// rootCause is the innermost error, without the request URL the http package adds.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// vaultMessage is Vault's own explanation, flattened to one line.
func vaultMessage(re *api.ResponseError) string {
	var parts []string
	for _, e := range re.Errors {
		// Vault wraps some errors in go-multierror text: "1 error occurred:\n\t* x\n\n".
		for _, line := range strings.Split(e, "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "* "))
			if line == "" || strings.HasSuffix(line, "error occurred:") || strings.HasSuffix(line, "errors occurred:") {
				continue
			}
			parts = append(parts, line)
		}
	}
	if len(parts) == 0 {
		return http.StatusText(re.StatusCode)
	}
	return strings.Join(parts, "; ")
}

// roleHint names the role setting behind one of Vault's refusals.
func roleHint(role Role, msg string) string {
	at := fmt.Sprintf(" on role %q at mount %q", role.Name, role.Mount)
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "unknown role"):
		return fmt.Sprintf(": create the role (vault write %s/roles/%s ...) or fix its name", role.Mount, role.Name)
	case strings.Contains(lower, "common name") && strings.Contains(lower, "not allowed"):
		return ": name the instance inside the role's allowed_domains (with allow_subdomains/allow_bare_domains), or set cn_validations=disabled" + at + " (clients check the SANs, not the CN)"
	case strings.Contains(lower, "subject alternate name localhost"):
		return ": set allow_localhost=true" + at
	case strings.Contains(lower, "subject alternate name"):
		return ": add the name's domain to allowed_domains (with allow_subdomains=true, or allow_bare_domains=true for the domain itself)" + at
	case strings.Contains(lower, "other san"):
		return fmt.Sprintf(": set allowed_other_sans=%q%s (Elasticsearch's node names are otherName 2.5.4.3 UTF8 values)", otherSANPrefix+"*", at)
	case strings.Contains(lower, "ip subject alternative names are not allowed"):
		return ": set allow_ip_sans=true" + at
	case strings.Contains(lower, "role requires keys of type"), strings.Contains(lower, "bit key"), strings.Contains(lower, `key type "any"`):
		return ": set key_type and key_bits" + at + " to the key escert uses (key_type=any lets sign accept every key; issue needs a concrete type)"
	case strings.Contains(lower, "beyond the expiration of the ca"):
		return fmt.Sprintf(": ask for fewer days, or renew the CA of mount %q (or set leaf_not_after_behavior=truncate on its issuer)", role.Mount)
	case strings.Contains(lower, "ttl"):
		return ": raise max_ttl" + at + " (and the mount's max_lease_ttl), or ask for fewer days"
	}
	return ""
}
