#!/usr/bin/env bash
# Deep fuzzing, a benchmark rather than a test: every fuzz target for at
# least FUZZ_EXECS executions (default 10^6), one after the other (the
# machine has two cores; go's fuzzer uses them all). Prints executions,
# time and new corpus entries per target and writes bench/fuzz-long.txt.
# A crasher is kept by go under the package's testdata/fuzz/<Target>/ and
# from then on runs as a regression test in `go test ./...`.
set -uo pipefail
cd "$(dirname "$0")/.."
EXECS="${FUZZ_EXECS:-1000000}"
OUT=bench/fuzz-long.txt
targets=(
  "./ledger FuzzDecodeTx"
  "./ledger FuzzApply"
  "./interop/stix FuzzImport"
  "./ledger/store FuzzSnapshotChunk"
  "./ledger/store FuzzSnapshotManifest"
  "./node/api FuzzEdge"
  "./node/genesis FuzzApplication"
  "./node/witness FuzzParseRequest"
  "./verifiers/checkpoint FuzzOpen"
  "./verifiers/checkpoint FuzzParsePolicy"
)
: > "$OUT.tmp"
status=0
for t in "${targets[@]}"; do
  set -- $t
  pkg=$1 name=$2
  start=$(date +%s)
  log=$(go test -timeout 0 -run '^$' -fuzz "^${name}\$" -fuzztime "${EXECS}x" "$pkg" 2>&1)
  rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(echo "$log" | grep -o 'execs: [0-9]*' | tail -1 | grep -o '[0-9]*')
  interesting=$(echo "$log" | grep -o 'new interesting: [0-9]*' | tail -1 | grep -o '[0-9]*$')
  result=ok
  if [ $rc -ne 0 ]; then result=FAILED; status=1; echo "$log" | tail -30; fi
  line=$(printf '%-22s %-22s %-6s %10s execs %6s s  %s new corpus entries' "$pkg" "$name" "$result" "${execs:-?}" "$secs" "${interesting:-0}")
  echo "$line"
  echo "$line" >> "$OUT.tmp"
done
{ echo "# scripts/fuzz-long.sh, FUZZ_EXECS=$EXECS, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(go version | cut -d' ' -f3), $(nproc) cores"; cat "$OUT.tmp"; } > "$OUT"
rm -f "$OUT.tmp"
exit $status
