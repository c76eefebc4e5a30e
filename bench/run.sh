#!/usr/bin/env bash
# Reproduces every benchmark and regenerates BENCHMARKS.md. Not part of the
# tests. Needs only Go; takes roughly 30-40 minutes on 2 cores (the 1M-record
# state growth run is most of it: GROWTH_RECORDS=200000 makes it quick).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${BENCH_DIR:-/tmp/normledger-bench}"
GROWTH_RECORDS="${GROWTH_RECORDS:-1000000}"
mkdir -p "$WORK"
BIN="$WORK/normledger"

echo "== build"
CGO_ENABLED=0 go build -o "$BIN" ./cmd/normledger

echo "== micro-benchmarks (go test -bench)"
go test -run '^$' -bench 'DecodeVerify|CheckTx|FinalizeCommit|Proof' -benchtime 2s ./app | tee "$WORK/micro.txt"
go test -run '^$' -bench RESTProofReads -benchtime 20000x ./node | tee -a "$WORK/micro.txt"

echo "== state growth and RSS, $GROWTH_RECORDS records through the app"
rm -rf "$WORK/growth"
"$BIN" testnet growth --records "$GROWTH_RECORDS" --every 100000 --dir "$WORK/growth" > "$WORK/growth.json"

echo "== networks: kvstore baseline and normledger, 4 validators each, same run"
"$BIN" testnet bench --dir "$WORK/nets" --out BENCHMARKS.md --micro "$WORK/micro.txt" \
  --growth "$WORK/growth.json" --json "$WORK/bench.json" --commands "
make bench            # = bash bench/run.sh; GROWTH_RECORDS=N to shorten the growth run
go test -run '^\$' -bench 'DecodeVerify|CheckTx|FinalizeCommit|Proof' -benchtime 2s ./app
go test -run '^\$' -bench RESTProofReads -benchtime 20000x ./node
normledger testnet growth --records $GROWTH_RECORDS --every 100000 --dir DIR
normledger testnet bench --dir DIR --out BENCHMARKS.md   # ramps, half-rate latency, reads under load
normledger testnet init --validators 4 --app kvstore --timeout-commit 200ms --output DIR   # the baseline by hand
normledger testnet load DIR --rate R --duration D --size 1024"
echo "== wrote BENCHMARKS.md (raw: $WORK/bench.json)"
