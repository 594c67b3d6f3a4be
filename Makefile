# hostdrift: build, test, lint, bench.
#   make test   as root on Debian: installs what the tests need, then runs every test
#               (network namespaces, real kernels and daemons); nothing is skipped.

GO        ?= go
BIN       ?= bin/hostdrift
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# Real-kernel tests refuse to skip under strict mode.
TESTENV   := HOSTDRIFT_TEST_STRICT=1
# A fresh machine first builds the Debian roots the systemd, stock-host and
# firewalld tests boot (about 20 min on 2 cores), inside the package tests.
TESTFLAGS ?= -count=1 -timeout 70m
DEB_ARCH  ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
# Fuzzing: how long each target runs, and where the corpus it grows is kept.
FUZZTIME  ?= 2m
FUZZCACHE ?= $(CURDIR)/.fuzzcache

.PHONY: all build deb test test-quick deps lint bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hostdrift

## deb: bin/hostdrift_VERSION_ARCH.deb with dpkg-deb (binary, units, man page, /etc/hostdrift)
deb: build
	sh packaging/deb/build.sh $(BIN) $(VERSION) $(DEB_ARCH) $(patsubst %/,%,$(dir $(BIN)))

## deps: install the Debian packages the tests need (as root; a no-op when present)
deps:
	sh scripts/test-deps.sh

## test: every test, as root, nothing skipped
test: deps lint
	@if [ "$$(id -u)" -ne 0 ]; then echo "make test runs real-kernel tests and must run as root (try: sudo make test, or make test-quick)" >&2; exit 2; fi
	$(TESTENV) $(GO) test $(TESTFLAGS) ./...

## test-quick: the tests that need no root or daemons; the others skip
test-quick:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:" $$out >&2; exit 1; fi
	$(GO) vet ./...

## bench: the benchmarks, each printing its ratio to a reference measured in the same run,
##        then the big host (issues 10 and 18, docs/performance.md): hostdrift against the
##        kernel's dump tools at BENCH_SCALES and against goss at 1x, issue 18's targets
##        met or not, figures in BENCH_JSON. BENCH_RUNS runs a scale up to 4x,
##        BENCH_LARGE_RUNS above it.
BENCH_SCALES     ?= 1,4,16
BENCH_RUNS       ?= 5
BENCH_LARGE_RUNS ?= 1
BENCH_JSON       ?= bin/bench.json
bench: deps
	@if [ "$$(id -u)" -ne 0 ]; then echo "make bench builds network namespaces and must run as root (try: sudo make bench)" >&2; exit 2; fi
	$(TESTENV) $(GO) test -run '^$$' -bench . -benchtime 5x -count=1 ./...
	$(GO) run ./cmd/hostdrift-bench -scales $(BENCH_SCALES) -runs $(BENCH_RUNS) -large-runs $(BENCH_LARGE_RUNS) -json $(BENCH_JSON) $(if $(PROFILE),-profile $(PROFILE))

## fuzz: every Fuzz target in the module, one at a time, FUZZTIME each; the corpus is kept in .fuzzcache/
# (go test replays only the seeds and testdata/fuzz; a crasher found here is written to testdata/fuzz)
fuzz:
	@list=$$($(GO) test -list '^Fuzz' ./...) || { echo "$$list" >&2; exit 1; }; \
	targets=$$(echo "$$list" | awk '/^Fuzz/ { names = names " " $$1; next } /^ok/ { n = split(names, f, " "); for (i = 1; i <= n; i++) print $$2 "=" f[i]; names = "" }'); \
	if [ -z "$$targets" ]; then echo "no Fuzz targets found" >&2; exit 1; fi; \
	failed=""; \
	for t in $$targets; do \
		pkg=$${t%%=*}; name=$${t#*=}; \
		echo "== $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg -args -test.fuzzcachedir=$(FUZZCACHE)/$$pkg \
			|| failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz targets failed:$$failed" >&2; exit 1; fi

clean:
	rm -rf bin
