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
               ./internal/spec ./internal/issuer ./internal/issuer/stepca ./internal/inspect ./internal/esconfig ./internal/bundle \
               ./internal/cadir ./internal/nodetls

.PHONY: build fips fips-boring check-fips test test-servers test-unit test-fips test-boring lint demo bench clean

# The Elasticsearch versions the end-to-end tests start (internal/e2e names the same
# ones): the newest 8.x and 9.x, and 8.17 for the keystore format table.
ES_VERSIONS := 9.5.4 8.19.21 8.17.4
# The OpenSearch versions the tests start (internal/realtest names the same ones): the
# newest 2.x and 3.x whose security plugin zip Central has beside the server.
OS_VERSIONS := 2.19.4 3.4.0 2.11.1
# The FIPS JVMs the FIPS end-to-end tests run (version:generation): 9.4+ on
# BouncyCastle FIPS 2.x (FIPS 140-3), 8.x on 1.x (FIPS 140-2).
FIPS_ES := 9.5.4:140-3 8.19.21:140-2

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
# drive real consumers (keytool/JSSE, openssl, node, python3, curl) and real servers
# (Elasticsearch, Vault, step-ca); with ESCERT_REQUIRE_TOOLS=1 (as in CI) a missing
# one fails.
test: test-servers lint check-fips test-fips test-boring test-unit

# The real servers the tests start, each built or fetched once and cached outside the
# checkout: Vault (~20 minutes cold), step-ca (~3 minutes), Elasticsearch (~20 s a
# version) and its FIPS JVMs (~10 s each). Later runs find them in the cache at once.
test-servers:
	@# Elasticsearch refuses to run as root: as root, the test nodes run as the user the
	@# packages create.
	@if [ "$$(id -u)" = 0 ] && ! id elasticsearch >/dev/null 2>&1; then \
	  useradd --system --no-create-home --shell /usr/sbin/nologin elasticsearch; fi
	scripts/build-vault >/dev/null
	scripts/build-stepca >/dev/null
	@# The integ-test zip lacks analysis-common, which the .security index's mapping needs.
	for v in $(ES_VERSIONS); do scripts/fetch-elasticsearch $$v >/dev/null && \
	  scripts/build-es-test-analysis $$v >/dev/null || exit 1; done
	for vg in $(FIPS_ES); do scripts/prepare-fips-elasticsearch $${vg%%:*} $${vg##*:} >/dev/null || exit 1; done
	@# OpenSearch with its security plugin (~15 s a version); its nodes run as the same user.
	for v in $(OS_VERSIONS); do scripts/fetch-opensearch $$v >/dev/null || exit 1; done

# The end-to-end package runs real clusters for several minutes: past go test's
# default 10-minute limit.
test-unit:
	$(GO) test -count=1 -timeout 45m ./...

test-fips:
	GODEBUG=fips140=only $(GO) test -count=1 $(CRYPTO_PKGS)

test-boring:
	GOEXPERIMENT=boringcrypto CGO_ENABLED=1 $(GO) test -count=1 $(CRYPTO_PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@# escert is for Unix: it builds for the Unix systems it claims, and refuses others in one line.
	GOOS=darwin $(GO) build -o /dev/null ./cmd/escert
	GOOS=freebsd $(GO) build -o /dev/null ./cmd/escert
	@if GOOS=windows $(GO) build -o /dev/null ./cmd/escert 2>&1 | grep -q 'Unix systems only'; then :; else echo "GOOS=windows must stop with 'Unix systems only'"; exit 1; fi

# A demo bootstrap of three nodes and Kibana from testdata/instances.yml; no server needed.
# The previous demo is removed first, not kept as a backup: --force would leave a
# $(DEMO).bak-* with CA keys in the checkout after every run.
demo: build
	rm -rf $(DEMO) $(DEMO).bak-*
	./bin/escert bootstrap --instances testdata/instances.yml --out $(DEMO)
	./bin/escert inspect $(DEMO)/nodes/node1/certs/transport.p12

# escert against pinned mkcert and cfssl in one run (installed into
# ${XDG_CACHE_HOME:-$HOME/.cache}/escert-bench on first use), alternating, with the
# crypto floor and issue 14's targets. The report is teed to bench/last.txt by the
# program (-tee), not by a pipe, so a failed run fails make. The runs write to tmpfs:
# on this kind of VM, creating a file on the disk costs 0.1 to 1 ms and varies tenfold
# from run to run, which would measure the disk rather than the tools.
# BENCH_FLAGS replaces that, e.g. BENCH_FLAGS='-work /tmp -big 0' for the disk
# (go run ./bench/peers -h lists the flags).
BENCH_FLAGS ?= -work /dev/shm
bench: build
	$(GO) run ./bench/peers -go '$(GO)' -tee bench/last.txt $(BENCH_FLAGS)

clean:
	rm -rf bin $(DEMO) $(DEMO).bak-*
