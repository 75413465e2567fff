package passwords

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/escert/escert/internal/esapi"
	"github.com/escert/escert/internal/fault"
)

// Refusals, each before any change on the cluster or on disk.
var (
	// ErrElasticUnknown: elastic accepts neither the file's password nor the bootstrap
	// password, so it was changed outside escert.
	ErrElasticUnknown = fault.Sentinel(fault.Credentials, "elastic accepts neither its password in the passwords file nor the bootstrap password")
	// ErrNotGreen: passwords live in the .security index; a cluster that is not green
	// may lose or not yet hold its shards.
	ErrNotGreen = fault.Sentinel(fault.Unavailable, "the cluster is not green")
	// ErrSetElsewhere: a user has a password that escert did not set.
	ErrSetElsewhere = fault.Sentinel(fault.Exists, "a password was set outside escert")
)

// Request says what to set.
type Request struct {
	Client *esapi.Client
	// Users are the users to give passwords, in order; elastic is always set last.
	Users []string
	// Known are the passwords of the file, if any.
	Known Entries
	// Bootstrap is the bootstrap password (elastic's until it has one of its own).
	Bootstrap []byte
	// Force sets new passwords for every user, whether or not the known one works or
	// a password was set outside escert.
	Force bool
	Rand  io.Reader
}

// Plan is what Prepare found, ready to Apply.
type Plan struct {
	req  Request
	auth esapi.Auth
	// Set are the users that get new passwords, elastic last; Kept those whose known
	// password works.
	Set, Kept []string
	// ElasticFrom says which password elastic signed in with: "file" or "bootstrap".
	ElasticFrom string
}

// Prepare signs in as elastic, checks the cluster is green and decides, per user,
// whether to keep its password or set one. It changes nothing.
func Prepare(ctx context.Context, req Request) (*Plan, error) {
	p := &Plan{req: req}
	c := req.Client
	switch known := req.Known.Get("elastic"); {
	case known != nil && authenticates(ctx, c, "elastic", known):
		p.auth, p.ElasticFrom = esapi.Auth{User: "elastic", Password: known}, "file"
	case req.Bootstrap != nil && authenticates(ctx, c, "elastic", req.Bootstrap):
		p.auth, p.ElasticFrom = esapi.Auth{User: "elastic", Password: req.Bootstrap}, "bootstrap"
	default:
		// Tell an unreachable node from a refused password.
		if _, err := c.Authenticates(ctx, &esapi.Auth{User: "elastic", Password: req.Bootstrap}); err != nil {
			return nil, err
		}
		return nil, ErrElasticUnknown
	}
	status, err := c.Health(ctx, &p.auth)
	if err != nil {
		return nil, err
	}
	if status != "green" {
		return nil, fmt.Errorf("%w: %s is %s: set passwords when every shard is assigned (GET _cluster/health)", ErrNotGreen, c.URL(), status)
	}
	var elsewhere []string
	for _, user := range req.Users {
		known := req.Known.Get(user)
		works := known != nil && authenticates(ctx, c, user, known)
		switch {
		case user == "elastic" && p.ElasticFrom == "file" && !req.Force:
			p.Kept = append(p.Kept, user)
		case user == "elastic":
			p.Set = append(p.Set, user)
		case works && !req.Force:
			p.Kept = append(p.Kept, user)
		case works || req.Force:
			p.Set = append(p.Set, user)
		default:
			set, err := setOnCluster(ctx, c, &p.auth, user)
			if err != nil {
				return nil, err
			}
			if set {
				elsewhere = append(elsewhere, user)
				continue
			}
			p.Set = append(p.Set, user)
		}
	}
	if len(elsewhere) > 0 {
		return nil, fmt.Errorf("%s: %w, and it is not the one in %s: --force replaces it", strings.Join(elsewhere, ", "), ErrSetElsewhere, File)
	}
	// elastic last: the other users are set while its password still works.
	if i := slices.Index(p.Set, "elastic"); i >= 0 {
		p.Set = append(slices.Delete(p.Set, i, i+1), "elastic")
	}
	return p, nil
}

// authenticates is Client.Authenticates where an error counts as "no": Prepare asks
// again, and reports, where the answer matters.
func authenticates(ctx context.Context, c *esapi.Client, user string, password []byte) bool {
	ok, err := c.Authenticates(ctx, &esapi.Auth{User: user, Password: password})
	return err == nil && ok
}

// setOnCluster reports whether the cluster stores a password for the reserved user:
// Elasticsearch keeps one document per reserved user whose password was changed in the
// .security index, which a superuser may read. Without the document the user still has
// the password it was born with (none, or elastic's bootstrap password).
func setOnCluster(ctx context.Context, c *esapi.Client, auth *esapi.Auth, user string) (bool, error) {
	resp, err := c.Send(ctx, http.MethodGet, ".security/_doc/reserved-user-"+user+"?_source=false", auth, nil)
	if err != nil {
		return false, err
	}
	switch resp.Status {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound: // no document, or no .security index yet
		return false, nil
	}
	return false, fmt.Errorf("cannot tell whether %s's password was set outside escert: GET .security/_doc/reserved-user-%s: %w", user, user, resp.Err())
}

// Result is what Apply did.
type Result struct {
	// Entries are the passwords in force, as written to the file.
	Entries Entries
	Set     []string
	Kept    []string
}

// Apply generates the new passwords, saves them with the kept ones first (so that no
// password in force is ever known only to the cluster), then sets them one user at a
// time. When a user fails, the file is saved again with what is in force, and the
// error says which users were set and how to continue.
func (p *Plan) Apply(ctx context.Context, save func(Entries) error) (*Result, error) {
	res := &Result{Kept: p.Kept, Entries: p.req.Known}
	if len(p.Set) == 0 {
		return res, nil
	}
	fresh := make(map[string][]byte, len(p.Set))
	planned := p.req.Known
	for _, user := range p.Set {
		pw, err := Generate(p.req.Rand)
		if err != nil {
			return nil, err
		}
		fresh[user] = pw
		planned = planned.With(user, pw)
	}
	if err := save(planned); err != nil {
		return nil, fmt.Errorf("nothing changed on the cluster: %w", err)
	}
	inForce := p.req.Known
	for _, user := range p.Set {
		body := map[string]string{"password": string(fresh[user])}
		err := p.req.Client.Do(ctx, http.MethodPost, "_security/user/"+user+"/_password", &p.auth, body, nil)
		if err != nil {
			return res, partial(save, inForce, res.Set, user, err)
		}
		inForce = inForce.With(user, fresh[user])
		res.Set = append(res.Set, user)
	}
	res.Entries = planned
	return res, nil
}

// partial saves the passwords in force after user failed and says what was done.
func partial(save func(Entries) error, inForce Entries, done []string, user string, cause error) error {
	did := "no password was set"
	if len(done) > 0 {
		did = "set " + strings.Join(done, ", ")
	}
	if err := save(inForce); err != nil {
		return fmt.Errorf("%s; %s failed: %w; and %s could not be rewritten to match (%v): it lists passwords not set for the users after %s", did, user, cause, File, err, strings.Join(done, ", "))
	}
	return fmt.Errorf("%s; %s failed: %w; %s holds the passwords in force: re-run escert passwords to continue", did, user, cause, File)
}

// ErrUnknownUser marks a user name that is not a built-in user escert sets.
var ErrUnknownUser = fault.Sentinel(fault.Usage, "not a built-in user")

// CheckUsers returns users in the order given, refusing names that are not built-in
// users and repeats.
func CheckUsers(users []string) ([]string, error) {
	var out []string
	for _, u := range users {
		if !slices.Contains(BuiltIn, u) {
			return nil, fmt.Errorf("%q: %w: give some of %s", u, ErrUnknownUser, strings.Join(BuiltIn, ", "))
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}
