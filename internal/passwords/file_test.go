package passwords_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/escert/escert/internal/passwords"
)

func TestParseReadsWhatRenderWrites(t *testing.T) {
	es := passwords.Entries{{User: "elastic", Password: []byte("a1")}, {User: "kibana_system", Password: []byte("b=2")}}
	got, err := passwords.Parse(passwords.Render("prod", es))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got.Get("elastic")) != "a1" || string(got.Get("kibana_system")) != "b=2" {
		t.Fatalf("round trip: %+v", got)
	}
}

func TestParseRefusesWhatSedWouldMisread(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"no equals sign", "elastic\n", "line 1"},
		{"a space in the name", "kibana system=x\n", `"kibana system" is not a user name`},
		{"an empty password", "# c\nelastic=\n", "line 2"},
		{"a trailing space", "elastic=abc \n", "leading or trailing spaces"},
		{"a user twice", "elastic=a\nelastic=b\n", "appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := passwords.Parse([]byte(tc.data))
			if !errors.Is(err, passwords.ErrSyntax) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) = %v, want ErrSyntax mentioning %q", tc.data, err, tc.want)
			}
			if strings.Contains(err.Error(), "abc") {
				t.Fatalf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestGenerateDrawsEveryCharacterOfTheAlphabet(t *testing.T) {
	seen := map[byte]bool{}
	for range 200 {
		pw, err := passwords.Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != passwords.Length {
			t.Fatalf("length %d, want %d", len(pw), passwords.Length)
		}
		for _, c := range pw {
			seen[c] = true
		}
	}
	// 4800 draws from 62 characters: missing one is a bias (or a broken alphabet).
	if len(seen) != 62 {
		t.Fatalf("%d distinct characters in 4800 draws, want 62", len(seen))
	}
}

func TestGenerateSkipsBytesThatWouldBiasTheAlphabet(t *testing.T) {
	// 255 % 62 is 7 ('H'): a modulo without rejection would start with Hs. The bytes
	// from 248 up are dropped, so every character comes from the zeros ('A').
	src := append(bytes.Repeat([]byte{255}, 48), make([]byte, 48)...)
	pw, err := passwords.Generate(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if string(pw) != strings.Repeat("A", passwords.Length) {
		t.Fatalf("got %q", pw)
	}
}

func TestCheckUsersRefusesNamesThatAreNotBuiltInUsers(t *testing.T) {
	got, err := passwords.CheckUsers([]string{"kibana_system", "elastic", "kibana_system"})
	if err != nil || strings.Join(got, ",") != "kibana_system,elastic" {
		t.Fatalf("CheckUsers = %v, %v", got, err)
	}
	if _, err := passwords.CheckUsers([]string{"kibana"}); !errors.Is(err, passwords.ErrUnknownUser) {
		t.Fatalf("kibana (the deprecated user): %v, want ErrUnknownUser", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("elastic=abc\nkibana_system=def\n"))
	f.Add([]byte("# comment\n\r\n=x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := passwords.Parse(data)
		if err != nil {
			return
		}
		// What parses renders to a file that parses to the same entries.
		again, err := passwords.Parse(passwords.Render("c", es))
		if err != nil || len(again) != len(es) {
			t.Fatalf("re-parse: %v (%d vs %d entries)", err, len(again), len(es))
		}
		for _, e := range es {
			if !bytes.Equal(again.Get(e.User), e.Password) {
				t.Fatalf("%s changed", e.User)
			}
		}
	})
}
