// Package e2e holds the end-to-end tests: the escert binary, built as `make build`
// builds it, run as an operator runs it against real Elasticsearch clusters started
// from Elastic's own distributions (internal/realtest.Cluster). Nothing here is
// linked into escert; the package has no code outside its tests.
package e2e
