# normledger developer targets. Only Go is needed for build, test and run;
# `make proto` also needs protoc (Debian: protobuf-compiler).
GO      ?= go
BIN     ?= build/normledger
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/normledger/normledger/cli.Version=$(VERSION)

.PHONY: build release test unit race run proto proto-check lint fuzz fuzz-long ci bench clean

build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/normledger

# Reproducible static binaries for linux/amd64 and linux/arm64, an SBOM
# (CycloneDX) of each and SHA256SUMS in build/release (scripts/release.sh;
# VERSION, SOURCE_DATE_EPOCH, PLATFORMS and RELEASE_DIR override).
release:
	VERSION="$(VERSION)" GO="$(GO)" bash scripts/release.sh

# The README's whole-suite command (what .ci/run runs).
test:
	NORMLEDGER_NETWORKS=1 $(GO) test -timeout 30m ./...

# The quick tier: everything but the OS-process networks.
unit:
	$(GO) test ./...

# The race detector on what runs concurrently: the app under CometBFT's
# per-connection locking, the store read while it writes (.ci/run runs it).
race:
	$(GO) test -race -count=1 ./app ./ledger/store

# The README's run command: a seeded 4-validator local network.
run:
	$(GO) run ./cmd/normledger testnet up

proto:
	./scripts/protogen.sh

# Regenerating must not change the committed code.
proto-check: proto
	git diff --exit-code -- proto/gen

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^proto/gen/')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet -tags force64bit ./cmd/verifier-wasm ./verifiers/jsonapi

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzApply -fuzztime 30s ./ledger

# Every fuzz target for >= 10^6 executions (FUZZ_EXECS); a benchmark, not a
# test: writes bench/fuzz-long.txt.
fuzz-long:
	bash scripts/fuzz-long.sh

ci:
	bash .ci/run

# Benchmarks (not tests): regenerates BENCHMARKS.md.
bench:
	bash bench/run.sh

clean:
	rm -rf build .normledger-dev
