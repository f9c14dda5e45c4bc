#!/usr/bin/env bash
# Runs the ingest benchmarks of BENCHMARKS.md: both stores, single structured events from 32
# clients and batches of 100, three runs each, on a release build. PostgreSQL at $PG_URL (a
# database named dora_bench is dropped and recreated for every run).
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
RUNS="${RUNS:-3}"
cargo build --release --quiet --bin dora-events
bin="${CARGO_TARGET_DIR:-target}/release/dora-events"
run() {
  local store=$1 mode=$2 events=$3 url
  for i in $(seq 1 "$RUNS"); do
    if [[ $store == sqlite ]]; then
      dir=$(mktemp -d); url="sqlite://$dir/bench.db"
    else
      psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS dora_bench" -c "CREATE DATABASE dora_bench" 2>/dev/null
      url="$PG_URL/dora_bench"
    fi
    printf '%s %s run %s: ' "$store" "$mode" "$i"
    "$bin" bench --database-url "$url" --mode "$mode" --clients 32 --batch-size 100 --events "$events" |
      python3 -c 'import json,sys; r=json.load(sys.stdin); print("%(events_per_second).0f events/s, p50 %(latency_p50_ms).1f ms, p99 %(latency_p99_ms).1f ms, server CPU %(server_cpu_cores).2f cores, peak RSS %(server_peak_rss_mib).0f MiB" % r)'
  done
}
run sqlite structured 100000
run sqlite batch 500000
run postgres structured 100000
run postgres batch 500000
