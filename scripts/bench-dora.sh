#!/usr/bin/env bash
# Times the five keys on a generated history (BENCHMARKS.md, "The five keys"):
#   cargo build --release && python3 scripts/dora-history.py 20000 5 /tmp/hist.jsonl
#   bash scripts/bench-dora.sh /tmp/hist.jsonl
# Loads the file into a fresh release server on SQLite (POST /cdevents, one line per request),
# waits until the pipeline has caught up, then times GET /api/v1/dora and a series, each
# several times: the first request after new facts loads and folds them, the next ones reuse them.
set -euo pipefail
HISTORY=${1:?usage: bench-dora.sh HISTORY.jsonl}
BIN=${DORA_BIN:-target/release/dora-events}
PORT=${DORA_BENCH_PORT:-18777}
DB=$(mktemp -d)/bench-dora.db
RUST_LOG=error "$BIN" serve --listen "127.0.0.1:$PORT" --database-url "sqlite://$DB" &
PID=$!
trap 'kill $PID' EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
start=$(date +%s.%N)
while read -r line; do
  printf '%s' "$line" | curl -sf -o /dev/null -H 'content-type: application/json' --data-binary @- "$BASE/cdevents"
done <"$HISTORY"
until curl -s "$BASE/api/v1/pipeline" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["router_lag"] == 0 and d["deployments_lag"] == 0 else 1)'; do
  sleep 0.2
done
echo "loaded and processed in $(python3 -c "import time; print(round(time.time() - $start, 1))") s"
time_get() { curl -s -o /dev/null -w "$1: %{time_total}s\n" "$BASE$2"; }
for _ in 1 2 3 4 5; do time_get "all services" "/api/v1/dora?from=2023-01-01&to=2023-12-31"; done
for _ in 1 2 3; do time_get "one service" "/api/v1/dora?from=2023-01-01&to=2023-12-31&service=svc-1"; done
for _ in 1 2; do time_get "lead time by week" "/api/v1/metrics/lead-time?from=2023-01-01&to=2023-12-31"; done
