#!/usr/bin/env bash
# Builds the browser verifier (cmd/verifier-wasm: verifiers/jsonapi compiled to
# WebAssembly) into node/ui/static/verifier.wasm.gz (gzip -9 -n: about 7 MB
# instead of 34; the node serves it compressed) and copies the Go runtime's
# wasm_exec.js beside it. The build is reproducible: the same sources and Go
# version give the same bytes (-trimpath, no VCS stamp, empty build id).
#
#   scripts/wasm.sh           build and copy
#   scripts/wasm.sh --check   build twice elsewhere: both builds must be
#                             identical and, where node/ui/static holds
#                             verifier.wasm and wasm_exec.js, identical to
#                             them (so they are current and match this Go)
#
# The bytes depend on the Go version (the wasm and wasm_exec.js must come
# from the same one) and on nothing in the environment: GOFLAGS, GOWASM and
# GOEXPERIMENT are cleared.
#
# VERSION (default dev) is what version() reports.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=node/ui/static
GOROOT_DIR=$(go env GOROOT)
EXEC_JS="$GOROOT_DIR/lib/wasm/wasm_exec.js"
[ -f "$EXEC_JS" ] || EXEC_JS="$GOROOT_DIR/misc/wasm/wasm_exec.js" # Go before 1.24

build() { # $1: output file
  env CGO_ENABLED=0 GOOS=js GOARCH=wasm GOFLAGS= GOWASM= GOEXPERIMENT= \
    go build -tags force64bit -trimpath -buildvcs=false \
    -ldflags="-s -w -buildid= -X github.com/normledger/normledger/verifiers/jsonapi.Version=${VERSION:-dev}" \
    -o "$1" ./cmd/verifier-wasm
}

report() { # $1: wasm file
  echo "$1: $(wc -c <"$1") bytes, sha256 $(sha256sum "$1" | cut -d' ' -f1) ($(go env GOVERSION))"
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  build "$tmp/a.wasm"
  build "$tmp/b.wasm"
  if ! cmp -s "$tmp/a.wasm" "$tmp/b.wasm"; then
    echo "wasm build is not reproducible: two builds differ" >&2
    exit 1
  fi
  report "$tmp/a.wasm"
  gzip -9 -n -c "$tmp/a.wasm" >"$tmp/a.wasm.gz"
  for f in verifier.wasm.gz wasm_exec.js; do
    [ -f "$OUT/$f" ] || { echo "note: no $OUT/$f (not built here): reproducibility checked only"; continue; }
    want="$tmp/a.wasm.gz"
    [ "$f" = wasm_exec.js ] && want="$EXEC_JS"
    if ! cmp -s "$want" "$OUT/$f"; then
      echo "$OUT/$f is stale (not what this Go builds from these sources): run scripts/wasm.sh" >&2
      exit 1
    fi
  done
  exit 0
fi

mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build "$tmp/verifier.wasm"
report "$tmp/verifier.wasm"
gzip -9 -n -c "$tmp/verifier.wasm" >"$OUT/verifier.wasm.gz"
rm -f "$OUT/verifier.wasm"
cp "$EXEC_JS" "$OUT/wasm_exec.js"
echo "$OUT/verifier.wasm.gz: $(wc -c <"$OUT/verifier.wasm.gz") bytes"
