package issuertest

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/issuer"
)

// Class is one of a backend's sentinel errors and the fault kind that decides its
// exit code.
type Class struct {
	Sentinel error
	Kind     fault.Kind
}

// CheckClasses checks every class the way the CLI meets it: an *issuer.Error of the
// class, wrapped once more, has the class's fault kind, and errors.Is matches its
// sentinel and no other.
func CheckClasses(t *testing.T, classes []Class) {
	t.Helper()
	for _, c := range classes {
		t.Run(c.Sentinel.Error(), func(t *testing.T) {
			err := fmt.Errorf("sign the transport certificate of node-1: %w", issuer.Errorf(c.Sentinel, io.EOF, "what to do"))
			if got := fault.KindOf(err); got != c.Kind {
				t.Errorf("fault kind %v, want %v", got, c.Kind)
			}
			for _, other := range classes {
				if is := errors.Is(err, other.Sentinel); is != (other.Sentinel == c.Sentinel) {
					t.Errorf("errors.Is(err, %v) = %v", other.Sentinel, is)
				}
			}
		})
	}
}
