#!/usr/bin/env bash
# Times the five keys on a generated history (BENCHMARKS.md, "The five keys"):
#   cargo build --release && python3 scripts/dora-history.py 1000000 5 /tmp/hist.jsonl
#   bash scripts/bench-dora.sh /tmp/hist.jsonl
# Loads the file into a fresh release server on SQLite (POST /cdevents, one line of 1,000 CDEvents
# per request), logging the pipeline's progress every 10 s, waits until the router and the
# calculator (facts and links) have caught up, then times GET /api/v1/dora and a series several
# times. scripts/bench-incremental.py measures the incremental engine (freshness, restarts,
# memory, recompute).
# DORA_BENCH_DB=PATH keeps the database (and reuses it when it exists: no loading).
# DORA_BENCH_DATABASE_URL=postgres://... runs on PostgreSQL instead (an empty database: it loads).
set -euo pipefail
HISTORY=${1:?usage: bench-dora.sh HISTORY.jsonl}
BIN=${DORA_BIN:-${CARGO_TARGET_DIR:-target}/release/dora-events}
PORT=${DORA_BENCH_PORT:-18777}
DB=${DORA_BENCH_DB:-$(mktemp -d)/bench-dora.db}
LOAD=1
[ -e "$DB" ] && LOAD=0
URL=${DORA_BENCH_DATABASE_URL:-sqlite://$DB}
[ -n "${DORA_BENCH_DATABASE_URL:-}" ] && LOAD=1
# A long freshness wait: the timings below are of answers from current facts.
export DORA_DORA__FRESHNESS_WAIT=${DORA_DORA__FRESHNESS_WAIT:-10min}
RUST_LOG=error "$BIN" serve --listen "127.0.0.1:$PORT" --database-url "$URL" &
PID=$!
trap 'kill $PID' EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
progress() {
  curl -s "$BASE/api/v1/pipeline" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(f"{k}={d[k]}" for k in ("raw_events","cdevents","deployments","router_lag","deployments_lag")))'
}
start=$(date +%s.%N)
if [ "$LOAD" = 1 ]; then
  ( while sleep 10; do echo "$(python3 -c "import time; print(round(time.time() - $start))") s: $(progress)"; done ) &
  LOGGER=$!
  trap 'kill $PID $LOGGER' EXIT
  while read -r line; do
    printf '%s' "$line" | curl -sf -o /dev/null -H 'content-type: application/json' --data-binary @- "$BASE/cdevents"
  done <"$HISTORY"
  echo "posted in $(python3 -c "import time; print(round(time.time() - $start, 1))") s: $(progress)"
  until curl -s "$BASE/api/v1/pipeline" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["router_lag"] == 0 and d["deployments_lag"] == 0 else 1)'; do
    sleep 1
  done
  echo "processed in $(python3 -c "import time; print(round(time.time() - $start, 1))") s: $(progress)"
fi
time_get() { curl -s -o /dev/null -w "$1: %{time_total}s\n" "$BASE$2"; }
time_get "all services, first request" "/api/v1/dora?from=2023-01-01&to=2023-12-31"
for _ in 1 2 3 4 5; do time_get "all services, one year" "/api/v1/dora?from=2023-01-01&to=2023-12-31"; done
for _ in 1 2 3; do time_get "all services, one quarter" "/api/v1/dora?from=2023-04-01&to=2023-06-30"; done
for _ in 1 2 3; do time_get "one service, one year" "/api/v1/dora?from=2023-01-01&to=2023-12-31&service=svc-1"; done
for _ in 1 2 3; do time_get "lead time by week, one year" "/api/v1/metrics/lead-time?from=2023-01-01&to=2023-12-31"; done
curl -s "$BASE/api/v1/dora?from=2023-01-01&to=2023-12-31" | python3 -c 'import json,sys; d=json.load(sys.stdin); k=d["keys"]; print({n: (k[n]["value"], k[n]["sample_size"]) for n in k}, "stale:", d["stale"])'
grep -E 'VmHWM|VmRSS' "/proc/$PID/status"
