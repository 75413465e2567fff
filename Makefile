# escert: `make build` for the binary, `make test` for everything CI checks.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/escert/escert/internal/cli.Version=$(VERSION)
# FIPS binaries keep their symbol table so auditors (and check-fips) can see the
# validated module's symbols in them.
FIPS_LDFLAGS := -X github.com/escert/escert/internal/cli.Version=$(VERSION)
DEMO    ?= escert-demo

# The crypto and bootstrap suites, run again under each FIPS flavour.
CRYPTO_PKGS := ./internal/fips ./internal/ca ./internal/eskeystore ./internal/p12 \
               ./internal/spec ./internal/issuer ./internal/issuer/stepca ./internal/inspect ./internal/esconfig ./internal/bundle

.PHONY: build fips fips-boring check-fips test test-unit test-fips test-boring lint demo bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/escert ./cmd/escert

# Go's FIPS 140-3 module, the certified v1.0.0 snapshot, with fips140=only baked in
# (cmd/escert/fips_only.go under -tags escertfips).
fips:
	GOFIPS140=v1.0.0 CGO_ENABLED=0 $(GO) build -trimpath -tags escertfips -ldflags '$(FIPS_LDFLAGS)' -o bin/escert-fips ./cmd/escert

# BoringCrypto needs cgo: with CGO_ENABLED=0 it would silently build without it.
fips-boring:
	GOEXPERIMENT=boringcrypto CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(FIPS_LDFLAGS)' -o bin/escert-fips-boring ./cmd/escert

# Fails when a "FIPS" binary is not one.
check-fips: build fips fips-boring
	scripts/check-fips-binaries

# Everything CI checks, the unit suite last so its summary closes the log. The tests
# drive real consumers (keytool/JSSE, openssl, node, python3, curl); with
# ESCERT_REQUIRE_TOOLS=1 (as in CI) a missing one fails.
test: lint check-fips test-fips test-boring test-unit

test-unit:
	$(GO) test -count=1 ./...

test-fips:
	GODEBUG=fips140=only $(GO) test -count=1 $(CRYPTO_PKGS)

test-boring:
	GOEXPERIMENT=boringcrypto CGO_ENABLED=1 $(GO) test -count=1 $(CRYPTO_PKGS)

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
