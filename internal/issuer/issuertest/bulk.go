// Package issuertest holds what the remote issuers' tests share: the bulk issuance
// benchmark every backend runs the same way, so their numbers compare, and the check
// that every class of a backend's failures carries its fault kind.
package issuertest

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

// BenchmarkBulk200Nodes issues the transport and HTTP certificates of 200 nodes
// through the issuer newIssuer returns: with 8 requests in flight (bootstrap's
// default) and one at a time, the baseline, in the same run.
func BenchmarkBulk200Nodes(b *testing.B, newIssuer func(b *testing.B, concurrency int) issuer.Issuer) {
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
			iss := newIssuer(b, concurrency)
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
