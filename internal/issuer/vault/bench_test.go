package vault

import (
	"context"
	"testing"

	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/issuer/issuertest"
)

// BenchmarkBulkIssue200Nodes: sign mode against a real Vault, the issuer's own
// concurrency limit set to the benchmark's.
func BenchmarkBulkIssue200Nodes(b *testing.B) {
	v := setupPKI(b)
	issuertest.BenchmarkBulk200Nodes(b, func(b *testing.B, concurrency int) issuer.Issuer {
		cfg := config(v, ModeSign)
		cfg.Concurrency = concurrency
		iss, _, err := New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		return iss
	})
}
