package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOfTakesTheOutermostKindInTheChain(t *testing.T) {
	inner := Sentinel(Credentials, "token refused")
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"nil is not a failure of a kind", nil, Failed},
		{"unmarked is a failure", errors.New("disk full"), Failed},
		{"marked", New(Locked, "held by pid %d", 7), Locked},
		{"sentinel through %w", fmt.Errorf("login: %w", inner), Credentials},
		{"outer mark wins", Mark(Unavailable, fmt.Errorf("x: %w", inner)), Unavailable},
		{"input error", fmt.Errorf("read: %w", BadFile("a.yml", "bad")), Input},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSentinelMatchesWithErrorsIsThroughWrapping(t *testing.T) {
	s := Sentinel(Input, "wrong password")
	if !errors.Is(fmt.Errorf("open: %w", s), s) {
		t.Fatal("errors.Is does not find the sentinel")
	}
	if errors.Is(Sentinel(Input, "wrong password"), s) {
		t.Fatal("two sentinels with one message must differ")
	}
}

func TestInputErrorSaysFileLineInstanceFieldAndProblem(t *testing.T) {
	tests := []struct {
		err  *InputError
		want string
	}{
		{BadFile("/etc/es", "not a directory"), "/etc/es: not a directory"},
		{&InputError{File: "i.yml", Line: 3, Problem: "p"}, "i.yml:3: p"},
		{&InputError{File: "i.yml", Line: 3, Instance: "node1", Problem: "p"}, `i.yml:3: instance "node1": p`},
		{&InputError{File: "i.yml", Line: 4, Instance: "node-1", Field: "dns", Problem: "empty"}, `i.yml:4: instance "node-1": field dns: empty`},
		{&InputError{File: "command line", Instance: "node1", Field: "--dns", Problem: "p"}, `command line: instance "node1": field --dns: p`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestMarkKeepsNil(t *testing.T) {
	if Mark(Input, nil) != nil {
		t.Fatal("Mark(nil) is not nil")
	}
}

func TestEveryKindHasAName(t *testing.T) {
	for _, k := range Kinds() {
		if s := k.String(); s == "" || s[0] == 'K' {
			t.Errorf("kind %d has no name", int(k))
		}
	}
}
