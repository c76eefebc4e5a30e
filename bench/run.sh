#!/usr/bin/env bash
# Reproduces every benchmark and regenerates BENCHMARKS.md. Not part of the
# tests. Needs only Go (the read benchmark's caching-proxy point also uses
# Debian's nginx, which it installs when missing, and skips without); takes roughly 45 minutes on 2 cores (the state growth
# runs are most of it: GROWTH_RECORDS=200000 GROWTH_PRUNED_RECORDS=200000
# make them quick).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${BENCH_DIR:-/tmp/normledger-bench}"
GROWTH_RECORDS="${GROWTH_RECORDS:-1000000}"
OUT="${BENCH_OUT:-BENCHMARKS.md}"
MICRO_TIME="${BENCH_MICRO_TIME:-2s}"
# Extra flags for `testnet bench`, e.g. BENCH_ARGS="--rates 300,600 --step 3s --read-for 1s" for a smoke run.
BENCH_ARGS="${BENCH_ARGS:-}"
mkdir -p "$WORK"
BIN="$WORK/normledger"

echo "== build"
CGO_ENABLED=0 go build -o "$BIN" ./cmd/normledger

echo "== micro-benchmarks (go test -bench)"
go test -run '^$' -bench 'DecodeVerify|CheckTx|FinalizeCommit|Proof' -benchtime "$MICRO_TIME" ./app | tee "$WORK/micro.txt"
go test -run '^$' -bench RESTProofReads -benchtime 20000x ./node | tee -a "$WORK/micro.txt"
go test -run '^$' -bench LogProofs -benchtime "$MICRO_TIME" ./ledger/store/tlog | tee -a "$WORK/micro.txt"
go test -run '^$' -bench Cosign -benchtime 2000x ./node/witness | tee -a "$WORK/micro.txt"
go test -run '^$' -bench PolicyCheck -benchtime 2000x ./verifiers/checkpoint | tee -a "$WORK/micro.txt"

GROWTH_KEEP_RECENT="${GROWTH_KEEP_RECENT:-100}"
# Pruning costs IAVL about 2 s per deleted 1,000-record version on this
# machine, so the pruned run stops at 300k records by default (~12 min).
GROWTH_PRUNED_RECORDS="${GROWTH_PRUNED_RECORDS:-300000}"
EVERY=$(( GROWTH_RECORDS < 100000 ? GROWTH_RECORDS : 100000 ))
if [ -n "${GROWTH_JSON:-}" ]; then
  echo "== state growth: reusing $GROWTH_JSON (from an earlier 'normledger testnet growth' run)"
  cp "$GROWTH_JSON" "$WORK/growth.json"
else
  echo "== state growth and RSS, $GROWTH_RECORDS records through the app, every version kept"
  rm -rf "$WORK/growth"
  "$BIN" testnet growth --records "$GROWTH_RECORDS" --every "$EVERY" --dir "$WORK/growth" > "$WORK/growth.json"
  rm -rf "$WORK/growth"
fi
if [ -n "${GROWTH_PRUNED_JSON:-}" ]; then
  echo "== state growth, pruned: reusing $GROWTH_PRUNED_JSON"
  cp "$GROWTH_PRUNED_JSON" "$WORK/growth-pruned.json"
else
  echo "== state growth and RSS, $GROWTH_PRUNED_RECORDS records, newest $GROWTH_KEEP_RECENT versions kept"
  rm -rf "$WORK/growth-pruned"
  "$BIN" testnet growth --records "$GROWTH_PRUNED_RECORDS" --every "$EVERY" --keep-recent "$GROWTH_KEEP_RECENT" \
    --dir "$WORK/growth-pruned" > "$WORK/growth-pruned.json"
  rm -rf "$WORK/growth-pruned"
fi

JOIN_RECORDS="${JOIN_RECORDS:-100000}"
if [ -n "${JOIN_JSON:-}" ]; then
  echo "== joining a chain: reusing $JOIN_JSON"
  cp "$JOIN_JSON" "$WORK/join.json"
else
  echo "== joining a chain of $JOIN_RECORDS records: block sync and state sync"
  rm -rf "$WORK/join"
  "$BIN" testnet joinbench --dir "$WORK/join" --records "$JOIN_RECORDS" --json "$WORK/join.json"
  rm -rf "$WORK/join"
fi

echo "== networks: kvstore baseline and normledger, 4 validators each, same run"
# shellcheck disable=SC2086
"$BIN" testnet bench --dir "$WORK/nets" --out "$OUT" --micro "$WORK/micro.txt" $BENCH_ARGS \
  --growth "$WORK/growth.json" --growth-pruned "$WORK/growth-pruned.json" --join "$WORK/join.json" --json "$WORK/bench.json" --commands "
make bench            # = bash bench/run.sh; GROWTH_RECORDS=N to shorten the growth run
go test -run '^\$' -bench 'DecodeVerify|CheckTx|FinalizeCommit|Proof' -benchtime 2s ./app
go test -run '^\$' -bench RESTProofReads -benchtime 20000x ./node
go test -run '^\$' -bench LogProofs -benchtime 2s ./ledger/store/tlog
go test -run '^\$' -bench Cosign -benchtime 2000x ./node/witness         # one witness's cosigning rate (fsync per state)
go test -run '^\$' -bench PolicyCheck -benchtime 2000x ./verifiers/checkpoint   # what a witness policy adds to a verification
normledger testnet growth --records $GROWTH_RECORDS --every 100000 --dir DIR                       # every version kept
normledger testnet growth --records $GROWTH_PRUNED_RECORDS --every 100000 --keep-recent $GROWTH_KEEP_RECENT --dir DIR  # pruned
normledger testnet bench --dir DIR --out BENCHMARKS.md   # ramps, half-rate latency, reads under load
normledger testnet init --validators 4 --app kvstore --timeout-commit 200ms --output DIR   # the baseline by hand
normledger testnet load DIR --rate R --duration D --size 1024
normledger testnet joinbench --dir DIR --records $JOIN_RECORDS --json FILE   # block sync vs state sync of a new node"
cp "$WORK/bench.json" bench/last-run.json
echo "== wrote $OUT (raw result: bench/last-run.json; re-render with normledger testnet bench --from-json bench/last-run.json)"
