package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/escert/escert/internal/infile"
)

// credKind is where the token comes from.
type credKind int

const (
	credToken credKind = iota
	credTokenFile
	credAgentSink
	credAppRole
)

// tokenState is the token in use and what Vault said about it. Its mutex also
// serializes renewals and logins.
type tokenState struct {
	mu           sync.Mutex
	kind         credKind
	token        string // for credToken
	path         string // token file, agent sink or secret ID file
	roleID       string
	appRoleMount string

	fileMod  time.Time // the token file as last read
	fileSize int64

	known     bool          // lookup-self or login told the TTL
	ttl       time.Duration // the token's TTL when last obtained or renewed, 0 for none
	expires   time.Time
	renewable bool
}

func newTokenState(a Auth) (*tokenState, error) {
	var given []string
	s := &tokenState{}
	if a.Token != "" {
		given = append(given, "a token")
		s.kind, s.token = credToken, a.Token
	}
	if a.TokenFile != "" {
		given = append(given, "a token file")
		s.kind, s.path = credTokenFile, a.TokenFile
	}
	if a.AgentSinkFile != "" {
		given = append(given, "a Vault Agent sink file")
		s.kind, s.path = credAgentSink, a.AgentSinkFile
	}
	if a.AppRoleID != "" || a.AppRoleSecretIDFile != "" {
		if a.AppRoleID == "" || a.AppRoleSecretIDFile == "" {
			return nil, errors.New("Vault AppRole login needs both the role ID and a file with the secret ID")
		}
		given = append(given, "an AppRole")
		s.kind, s.path, s.roleID = credAppRole, a.AppRoleSecretIDFile, a.AppRoleID
		s.appRoleMount = strings.Trim(a.AppRoleMount, "/")
		if s.appRoleMount == "" {
			s.appRoleMount = "approle"
		}
	}
	switch len(given) {
	case 0:
		return nil, newError(ErrLogin, nil, "no Vault credentials: give a token (VAULT_TOKEN), a token file, an AppRole role ID with a secret ID file, or a Vault Agent sink file")
	case 1:
		return s, nil
	}
	return nil, fmt.Errorf("Vault credentials: give one of %s, not several", strings.Join(given, ", "))
}

// login obtains the first token and learns its TTL.
func (i *Issuer) login(ctx context.Context) error {
	s := i.token
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.kind {
	case credToken:
		if err := checkToken(s.token, "VAULT_TOKEN"); err != nil {
			return err
		}
		i.client.SetToken(s.token)
	case credTokenFile, credAgentSink:
		if err := i.readTokenFileLocked(); err != nil {
			return err
		}
	case credAppRole:
		return i.appRoleLoginLocked(ctx)
	}
	return i.lookupLocked(ctx)
}

// freshToken runs before every certificate request: it picks up a token file that
// changed (Vault Agent rewrites its sink), renews a renewable token that has used up
// two thirds of its TTL, and logs in again with AppRole when renewing is not possible.
func (i *Issuer) freshToken(ctx context.Context) error {
	s := i.token
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kind == credTokenFile || s.kind == credAgentSink {
		info, err := os.Stat(s.path)
		if err == nil && (!info.ModTime().Equal(s.fileMod) || info.Size() != s.fileSize) {
			if err := i.readTokenFileLocked(); err != nil {
				return err
			}
			return i.lookupLocked(ctx)
		}
	}
	if !s.known || s.ttl <= 0 || s.expires.Sub(i.now()) > s.ttl/3 {
		return nil
	}
	if s.renewable {
		err := i.renewLocked(ctx)
		if err == nil || s.kind != credAppRole {
			// A failed renewal of any other token is not fatal yet: the token may
			// still have minutes left, and if not the request says so (ErrLogin).
			return nil
		}
	}
	if s.kind == credAppRole {
		return i.appRoleLoginLocked(ctx)
	}
	return nil
}

// readTokenFileLocked reads the token file or agent sink into the client.
func (i *Issuer) readTokenFileLocked() error {
	s := i.token
	what := "Vault token file"
	if s.kind == credAgentSink {
		what = "Vault Agent sink"
	}
	info, err := os.Stat(s.path)
	if err != nil {
		return newError(ErrLogin, err, "read %s: %v", what, err)
	}
	data, err := infile.Read(s.path, infile.Secret)
	if err != nil {
		return newError(ErrLogin, err, "read %s: %v", what, err)
	}
	token := strings.TrimSpace(string(data))
	if strings.HasPrefix(token, "{") {
		return newError(ErrLogin, nil, "the %s %s holds a response-wrapped or encrypted token: configure the sink without wrap_ttl and dh_type", what, s.path)
	}
	if err := checkToken(token, what+" "+s.path); err != nil {
		return err
	}
	i.client.SetToken(token)
	s.fileMod, s.fileSize = info.ModTime(), info.Size()
	return nil
}

// checkToken refuses an empty token or one with characters no token has (a file with
// two lines, a binary file), without quoting it.
func checkToken(token, from string) error {
	if token == "" {
		return newError(ErrLogin, nil, "the Vault token from %s is empty", from)
	}
	if strings.IndexFunc(token, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		return newError(ErrLogin, nil, "the Vault token from %s contains spaces or unprintable characters: it must hold the token alone", from)
	}
	return nil
}

// lookupLocked asks Vault about the token (auth/token/lookup-self): an invalid token
// fails here, before any certificate is requested. A token whose policies do not
// allow the lookup (no default policy) is used as it is, without renewal.
func (i *Issuer) lookupLocked(ctx context.Context) error {
	s := i.token
	r := request{method: http.MethodGet, path: "auth/token/lookup-self", mount: "auth/token", what: "look up the Vault token"}
	secret, err := i.call(ctx, i.client, r, nil)
	if errors.Is(err, ErrPermissionDenied) {
		s.known = false
		return nil
	}
	if err != nil {
		return err
	}
	if secret == nil {
		s.known = false
		return nil
	}
	ttl, err := secret.TokenTTL()
	if err != nil {
		s.known = false
		return nil
	}
	renewable, _ := secret.TokenIsRenewable()
	s.setTTL(i.now(), ttl, renewable)
	return nil
}

func (s *tokenState) setTTL(now time.Time, ttl time.Duration, renewable bool) {
	s.known, s.ttl, s.renewable = true, ttl, renewable
	s.expires = time.Time{}
	if ttl > 0 {
		s.expires = now.Add(ttl)
	}
}

// renewLocked renews the token by its own increment (auth/token/renew-self).
func (i *Issuer) renewLocked(ctx context.Context) error {
	r := request{method: http.MethodPut, path: "auth/token/renew-self", mount: "auth/token", what: "renew the Vault token"}
	secret, err := i.call(ctx, i.client, r, map[string]any{})
	if err != nil {
		return err
	}
	if secret == nil || secret.Auth == nil {
		return errors.New("renew the Vault token: Vault answered without the token's lease")
	}
	i.token.setTTL(i.now(), time.Duration(secret.Auth.LeaseDuration)*time.Second, secret.Auth.Renewable)
	return nil
}

// appRoleLoginLocked logs in at auth/<mount>/login with the role ID and the secret ID
// read from its file, on a client without a token.
func (i *Issuer) appRoleLoginLocked(ctx context.Context) error {
	s := i.token
	data, err := infile.Read(s.path, infile.Secret)
	if err != nil {
		return newError(ErrLogin, err, "read the AppRole secret ID file: %v", err)
	}
	secretID := strings.TrimSpace(string(data))
	if secretID == "" {
		return newError(ErrLogin, nil, "the AppRole secret ID file %s is empty", s.path)
	}
	login, err := i.client.Clone()
	if err != nil {
		return fmt.Errorf("Vault client: %w", err)
	}
	login.ClearToken()
	if i.namespace != "" {
		login.SetNamespace(i.namespace)
	}
	r := request{method: http.MethodPut, path: "auth/" + s.appRoleMount + "/login", mount: "auth/" + s.appRoleMount,
		what: "log in to Vault with AppRole", login: true}
	secret, err := i.call(ctx, login, r, map[string]any{"role_id": s.roleID, "secret_id": secretID})
	if err != nil {
		return err
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return newError(ErrLogin, nil, "log in to Vault with AppRole: Vault answered without a token")
	}
	i.client.SetToken(secret.Auth.ClientToken)
	s.setTTL(i.now(), time.Duration(secret.Auth.LeaseDuration)*time.Second, secret.Auth.Renewable)
	return nil
}
