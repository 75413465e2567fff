package bundle

import (
	"crypto/rand"
	"strings"
	"testing"
)

// BoringCrypto uses its own validated generator only when handed crypto/rand.Reader
// itself and panics outside tests otherwise, so the workers must get it unwrapped.
// (Test binaries are exempt from that panic: this is why the check is on identity.)
func TestWorkersGetCryptoRandReaderItselfAndSerializeAnyOther(t *testing.T) {
	if got := concurrentReader(rand.Reader); got != rand.Reader {
		t.Errorf("concurrentReader(rand.Reader) = %T, want crypto/rand.Reader itself", got)
	}
	if got := concurrentReader(nil); got != rand.Reader {
		t.Errorf("concurrentReader(nil) = %T, want crypto/rand.Reader", got)
	}
	other := strings.NewReader("deterministic")
	if _, ok := concurrentReader(other).(*lockedReader); !ok {
		t.Errorf("a test's reader is not serialized")
	}
}
