#!/usr/bin/env bash
# The book's tutorial on a laptop: start dora-events on an embedded SQLite file, post the
# Kubernetes events of examples/tutorial/ as a Knative ApiServerSource would, and read the
# deployment frequency. The server keeps running until Ctrl-C (or exits at once with --exit).
set -euo pipefail
cd "$(dirname "$0")/.."

exit_after=false
[[ "${1:-}" == "--exit" ]] && exit_after=true
listen="${DORA_TUTORIAL_LISTEN:-127.0.0.1:8080}"
db="${DORA_TUTORIAL_DB:-./dora-events-tutorial.db}"
base="http://${listen}"

cargo build --quiet --bin dora-events
rm -f "$db" "$db-wal" "$db-shm"
"${CARGO_TARGET_DIR:-target}/debug/dora-events" serve --listen "$listen" --database-url "sqlite://$db" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== Posting the tutorial's Kubernetes events to $base/events"
for event in examples/tutorial/*.json; do
  printf '%s -> ' "$(basename "$event")"
  curl -fsS "$base/events" -H 'content-type: application/cloudevents+json' --data-binary "@$event"
  echo
done

echo "== GET /deploy-frequency/day"
expected='"DeployName":"nginx-deployment-3","Deployments":1'
for _ in $(seq 1 50); do
  body=$(curl -fsS "$base/deploy-frequency/day")
  [[ "$body" == *"$expected"* ]] && break
  sleep 0.1
done
echo "$body"
[[ "$body" == *'"DeployName":"nginx-deployment","Deployments":2'* && "$body" == *"$expected"* ]] || {
  echo "unexpected deployment frequency" >&2
  exit 1
}

if $exit_after; then
  exit 0
fi
echo
echo "dora-events is serving on $base (database $db). Try:"
echo "  curl $base/deploy-frequency/week"
echo "  curl $base/api/v1/deployments"
echo "  curl $base/api/v1/pipeline"
echo "Ctrl-C to stop."
wait $server
