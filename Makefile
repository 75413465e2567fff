# escert: `make build` for the binary, `make test` for everything CI checks.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/escert/escert/internal/cli.Version=$(VERSION)
DEMO    ?= escert-demo

.PHONY: build test lint demo bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/escert ./cmd/escert

# The tests drive real consumers (keytool/JSSE, openssl, node, python3); with
# ESCERT_REQUIRE_TOOLS=1 (as in CI) a missing one fails instead of skipping.
test: lint
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# A demo bootstrap of three nodes and Kibana from testdata/instances.yml; no server needed.
demo: build
	./bin/escert bootstrap --instances testdata/instances.yml --out $(DEMO) --force
	./bin/escert inspect $(DEMO)/nodes/node1/certs/transport.p12

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 6 ./internal/bundle/ | tee bench/last.txt

clean:
	rm -rf bin $(DEMO) $(DEMO).bak-*
