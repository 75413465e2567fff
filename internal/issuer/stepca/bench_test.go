package stepca

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/spec"
)

// BenchmarkBulkIssue200Nodes issues the transport and HTTP certificates of 200 nodes
// through a real step-ca (JWK token + CSR each): 8 requests in flight, as bootstrap
// keeps them, and one at a time as the baseline in the same run.
func BenchmarkBulkIssue200Nodes(b *testing.B) {
	s := realtest.StartStepCA(b, realtest.StepCAOptions{Template: NodeTemplate})
	iss, err := New(context.Background(), Config{URL: s.URL, RootFile: s.RootFile, Provisioner: s.Provisioner, Password: []byte(s.Password)})
	if err != nil {
		b.Fatal(err)
	}
	var certs []spec.Certificate
	for i := range 200 {
		inst, err := spec.NewInstance(fmt.Sprintf("node%d", i), "", spec.Elasticsearch, []string{fmt.Sprintf("node%d.escert.test", i)}, nil, nil, nil, nil, false)
		if err != nil {
			b.Fatal(err)
		}
		c, err := spec.Certificates(inst, spec.Options{ClusterName: "prod", TrustRestrictions: true, Localhost: true, Days: 1})
		if err != nil {
			b.Fatal(err)
		}
		certs = append(certs, c...)
	}
	for _, concurrency := range []int{8, 1} {
		b.Run(fmt.Sprintf("concurrency-%d", concurrency), func(b *testing.B) {
			for b.Loop() {
				g, ctx := errgroup.WithContext(context.Background())
				g.SetLimit(concurrency)
				for _, c := range certs {
					g.Go(func() error {
						_, _, err := issuer.Obtain(ctx, iss, c, rand.Reader, fips.Policy{}, fips.DefaultKey)
						return err
					})
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
