package ossecurity

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

func TestInternalUsersHashesEachGeneratedPassword(t *testing.T) {
	users := []User{{Admin, []byte("admin-secret-1")}, {KibanaServer, []byte("kibana-secret-2")}}
	data, err := InternalUsers(users)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "secret") {
		t.Fatalf("a password is in the file:\n%s", data)
	}
	var doc map[string]struct {
		Type          string   `yaml:"type"`
		ConfigVersion int      `yaml:"config_version"`
		Hash          string   `yaml:"hash"`
		Reserved      bool     `yaml:"reserved"`
		BackendRoles  []string `yaml:"backend_roles"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, data)
	}
	if m := doc["_meta"]; m.Type != "internalusers" || m.ConfigVersion != 2 {
		t.Errorf("_meta = %+v, want internalusers version 2", m)
	}
	for _, u := range users {
		entry, ok := doc[u.Name]
		if !ok {
			t.Fatalf("no entry for %s", u.Name)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(entry.Hash), u.Password); err != nil {
			t.Errorf("%s: the hash does not match its password: %v", u.Name, err)
		}
		if cost, _ := bcrypt.Cost([]byte(entry.Hash)); cost != bcryptCost {
			t.Errorf("%s: bcrypt cost %d, want %d", u.Name, cost, bcryptCost)
		}
		if !entry.Reserved {
			t.Errorf("%s is not reserved: the REST API could change it", u.Name)
		}
	}
	if roles := doc[Admin].BackendRoles; len(roles) != 1 || roles[0] != "admin" {
		t.Errorf("admin's backend roles = %v, want [admin] (the shipped mapping to all_access)", roles)
	}
	if roles := doc[KibanaServer].BackendRoles; len(roles) != 0 {
		t.Errorf("kibanaserver has backend roles %v, want none", roles)
	}
}

func TestInternalUsersRefusesAUserWithoutAMapping(t *testing.T) {
	if _, err := InternalUsers([]User{{"readall", []byte("x")}}); err == nil {
		t.Fatal("wrote a user escert does not map")
	}
}

func TestUsersWithDemoHashesFindsTheShippedUsersOnly(t *testing.T) {
	generated, err := InternalUsers([]User{{Admin, []byte("generated-1")}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"shipped file", "_meta:\n  type: internalusers\nadmin:\n  hash: \"$2a$12$VcCDgh2NDk07JGN0rjGbM.Ad41qVR/YFJcgHp0UGns5JDymv..TOG\"\nreadall:\n  hash: \"$2a$12$ae4ycwzwvLtZxwZ82RmiEunBbIPiAmGZduBAjKN0TXdwQFtCwARz2\"\n", []string{"admin", "readall"}},
		{"escert's file", string(generated), nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UsersWithDemoHashes([]byte(tt.data))
			if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("UsersWithDemoHashes = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func FuzzUsersWithDemoHashes(f *testing.F) {
	f.Add([]byte("admin:\n  hash: x\n"))
	f.Add([]byte("- [a, b]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = UsersWithDemoHashes(data)
	})
}
