package vault

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/escert/escert/internal/issuer"
)

// Backoff between retries: exponential from retryBase, capped at retryCap, with
// jitter; a server's Retry-After is honoured up to maxRetryAfter.
const (
	retryBase     = 250 * time.Millisecond
	retryCap      = 8 * time.Second
	maxRetryAfter = time.Minute
)

// request describes one call to Vault, for the messages of its errors.
type request struct {
	method string // http.MethodGet or http.MethodPut
	path   string // without /v1/
	what   string // "sign the certificate of node-1", "read the CA of mount pki", ...
	mount  string // the secrets engine or auth mount the path starts with
	// role, when set, is the PKI role the request goes to, so a refusal can name
	// the role setting to change.
	role *Role
	// login marks a login request: a 400 or 403 means the credentials were refused.
	login bool
}

// capability is the ACL capability the request needs.
func (r request) capability() string {
	if r.method == http.MethodGet {
		return "read"
	}
	return "update"
}

// outcome is a classified failed attempt.
type outcome struct {
	err        error
	transient  bool          // worth another attempt
	retryAfter time.Duration // the server's Retry-After, 0 when absent
}

// call sends one request, retrying transient failures with exponential backoff and
// jitter (honouring Retry-After), each attempt bounded by the timeout. A 404 with no
// data is a nil secret. A cancelled ctx ends the backoff at once: Ctrl-C must not
// wait out a retry.
func (i *Issuer) call(ctx context.Context, client *api.Client, r request, body map[string]any) (*api.Secret, error) {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("%s: %w", r.what, err)
		}
	}
	for attempt := 0; ; attempt++ {
		secret, o := i.attempt(ctx, client, r, data)
		if i.observe != nil {
			i.observe(r, attempt, o)
		}
		if o.err == nil {
			return secret, nil
		}
		if !o.transient || attempt >= i.retries {
			if o.transient && attempt > 0 {
				return nil, fmt.Errorf("%w (%d attempts)", o.err, attempt+1)
			}
			return nil, o.err
		}
		wait := backoff(attempt)
		if o.retryAfter > wait {
			wait = min(o.retryAfter, maxRetryAfter)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, issuer.Stopped(ctx, fmt.Errorf("%w (gave up waiting to retry: %w)", o.err, ctx.Err()))
		}
	}
}

func (i *Issuer) attempt(ctx context.Context, client *api.Client, r request, data []byte) (*api.Secret, outcome) {
	actx, cancel := context.WithTimeout(ctx, i.timeout)
	defer cancel()
	var (
		resp *api.Response
		err  error
	)
	if r.method == http.MethodGet {
		resp, err = client.Logical().ReadRawWithContext(actx, r.path)
	} else {
		resp, err = client.Logical().WriteRawWithContext(actx, r.path, data)
	}
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return nil, i.classify(ctx, r, resp, err)
	}
	secret, err := api.ParseSecret(resp.Body)
	if err != nil {
		return nil, i.classify(ctx, r, nil, err)
	}
	return secret, outcome{}
}

// backoff is the wait before retry n (from 0): exponential, capped, with jitter in
// [d/2, d) so that parallel requests do not retry in step.
func backoff(n int) time.Duration {
	d := retryBase << min(n, 10)
	d = min(d, retryCap)
	return d/2 + mrand.N(d/2)
}

// retryAfter reads the Retry-After header: seconds or an HTTP date.
func retryAfter(resp *api.Response) time.Duration {
	if resp == nil || resp.Response == nil {
		return 0
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}
