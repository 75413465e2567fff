package vault

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/escert/escert/internal/fault"
)

// parseAddr checks Vault's address before anything is sent to it: a typo should say
// which flag to fix, not surface later as a connection failure.
func parseAddr(addr string) (*url.URL, error) {
	u, err := url.Parse(addr)
	if addr == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fault.New(fault.Input, "Vault address %q: give an http:// or https:// URL with --vault-addr or VAULT_ADDR", addr)
	}
	return u, nil
}

// connectionWarnings says what an eavesdropper could learn on the way to Vault.
func connectionWarnings(u *url.URL, insecure bool, mode string) []string {
	var warnings []string
	addr := strings.TrimRight(u.String(), "/")
	if insecure {
		warnings = append(warnings, fmt.Sprintf("TLS verification of Vault at %s is off (--insecure): anyone on the path can read the token and forge certificates", addr))
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		what := "the Vault token crosses"
		if mode == ModeIssue {
			what = "the Vault token and every private key cross"
		}
		warnings = append(warnings, fmt.Sprintf("Vault at %s is reached over plain HTTP: %s the network unencrypted", addr, what))
	}
	return warnings
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newClient builds the API client from cfg alone. The api package reads VAULT_TOKEN
// and VAULT_NAMESPACE by itself; both are overridden here, and VAULT_SKIP_VERIFY has
// no effect (TLS is configured from cfg only).
func newClient(addr string, cfg Config, concurrency int) (*api.Client, error) {
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
	}
	apiCfg := &api.Config{
		Address: addr,
		HttpClient: &http.Client{
			Transport: transport,
			// The api package follows Vault's redirects itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		// Retries and timeouts are this package's (see call): the api package's own
		// retry policy would also retry a sealed Vault.
		MaxRetries: 0,
	}
	if err := apiCfg.ConfigureTLS(&api.TLSConfig{CACert: cfg.CACert, Insecure: cfg.Insecure}); err != nil {
		return nil, fmt.Errorf("Vault CA certificate %s (VAULT_CACERT): %w", cfg.CACert, err)
	}
	client, err := api.NewClient(apiCfg)
	if err != nil {
		return nil, fmt.Errorf("Vault client for %s: %w", addr, err)
	}
	client.ClearToken()
	if cfg.Namespace != "" {
		client.SetNamespace(cfg.Namespace)
	} else {
		client.ClearNamespace()
	}
	return client, nil
}
