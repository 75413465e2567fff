// Package passwords owns the built-in users' passwords: the file escert keeps them in
// (one user=password line each, readable by sh, sed and grep) and setting them on a live
// cluster, refusing before any change when the cluster is not green, elastic's password
// is not known, or a user's password was set outside escert.
package passwords

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// File is the name of the passwords file in a bundle, beside elastic-bootstrap-password.
const File = "built-in-passwords"

// BuiltIn are the users the command sets by default: the built-in users that Elastic's
// checklist says must get passwords of their own. apm_system and
// remote_monitoring_user exist whatever the license.
var BuiltIn = []string{"elastic", "kibana_system", "logstash_system", "beats_system", "apm_system", "remote_monitoring_user"}

// Length of a generated password, from an alphabet of 62: about 143 bits, past
// Elasticsearch's 6-character minimum and a FIPS node's 112-bit rule for stored
// secrets, and nothing a shell, YAML or a keystore prompt would mangle.
const Length = 24

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Entry is one user's password.
type Entry struct {
	User     string
	Password []byte
}

// Entries are the file's content, in its order.
type Entries []Entry

// Get returns user's password, or nil.
func (es Entries) Get(user string) []byte {
	for _, e := range es {
		if e.User == user {
			return e.Password
		}
	}
	return nil
}

// With returns a copy of es with user's password set (added at the end when new).
func (es Entries) With(user string, password []byte) Entries {
	out := slices.Clone(es)
	for i := range out {
		if out[i].User == user {
			out[i].Password = password
			return out
		}
	}
	return append(out, Entry{User: user, Password: password})
}

// ErrSyntax marks a passwords file that is not escert's.
var ErrSyntax = errors.New("not a passwords file")

// Parse reads a passwords file: user=password lines, # comments and blank lines. A
// user appears once; names are those Elasticsearch allows for users without spaces,
// so that `sed -n 's/^kibana_system=//p'` finds exactly one line.
func Parse(data []byte) (Entries, error) {
	var es Entries
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, password, ok := strings.Cut(line, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("line %d: %w: want user=password", i+1, ErrSyntax)
		case !validUser(user):
			return nil, fmt.Errorf("line %d: %w: %q is not a user name (letters, digits and _ . - only)", i+1, ErrSyntax, user)
		case password == "" || strings.TrimSpace(password) != password:
			return nil, fmt.Errorf("line %d: %w: %s's password is empty or has leading or trailing spaces", i+1, ErrSyntax, user)
		case es.Get(user) != nil:
			return nil, fmt.Errorf("line %d: %w: %s appears twice", i+1, ErrSyntax, user)
		}
		es = append(es, Entry{User: user, Password: []byte(password)})
	}
	return es, nil
}

func validUser(s string) bool {
	if s == "" || len(s) > 507 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.-", r)) {
			return false
		}
	}
	return true
}

// Render writes the file of `escert passwords` for the cluster named, with a header
// saying how to read it.
func Render(cluster string, es Entries) []byte {
	return render(es, fmt.Sprintf("escert passwords: the built-in users' passwords of cluster %s", cluster), "kibana_system",
		"# `escert passwords` leaves users whose password here works; --force sets new ones.\n")
}

// RenderInternalUsers writes the file an OpenSearch bootstrap leaves: its internal
// users' passwords, whose bcrypt hashes the nodes' internal_users.yml holds.
func RenderInternalUsers(cluster string, es Entries) []byte {
	return render(es, fmt.Sprintf("escert bootstrap: the internal users' passwords of OpenSearch cluster %s", cluster), "kibanaserver", "")
}

func render(es Entries, writtenBy, example, footer string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by %s.\n", writtenBy)
	b.WriteString("# Mode 0600: keep it that way, and off the nodes. One user=password per line; read one with\n")
	fmt.Fprintf(&b, "#   sed -n 's/^%s=//p' %s\n", example, File)
	b.WriteString(footer)
	for _, e := range es {
		fmt.Fprintf(&b, "%s=%s\n", e.User, e.Password)
	}
	return b.Bytes()
}

// Generate returns a new random password of Length characters, each drawn uniformly
// (rejection sampling, no modulo bias).
func Generate(rand io.Reader) ([]byte, error) {
	out := make([]byte, 0, Length)
	buf := make([]byte, 2*Length)
	for len(out) < Length {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("generating a password: %w", err)
		}
		for _, c := range buf {
			// 248 = 4*62: values at or past it would favour the first characters.
			if c < 248 && len(out) < Length {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return out, nil
}
