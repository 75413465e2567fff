package stepca

import (
	"context"
	"testing"

	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/issuer/issuertest"
	"github.com/escert/escert/internal/realtest"
)

// BenchmarkBulkIssue200Nodes: a JWK token and a CSR per certificate, against a real
// step-ca.
func BenchmarkBulkIssue200Nodes(b *testing.B) {
	s := realtest.StartStepCA(b, realtest.StepCAOptions{Template: NodeTemplate})
	iss, err := New(context.Background(), Config{URL: s.URL, RootFile: s.RootFile, Provisioner: s.Provisioner, Password: []byte(s.Password)})
	if err != nil {
		b.Fatal(err)
	}
	issuertest.BenchmarkBulk200Nodes(b, func(*testing.B, int) issuer.Issuer { return iss })
}
