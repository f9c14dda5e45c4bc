#!/usr/bin/env bash
# Browser tests of the dashboard: build dora-events, start it on a fresh SQLite database and a
# free port, post the hand-checkable data set of tests/browser/fixtures/ (plus the tutorial's
# Kubernetes events), and drive Debian's headless Chromium with playwright-core under node's test
# runner. Screenshots (and the server log) go to target/browser-artifacts/. Exits non-zero when a
# test fails; the server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-$root/target}"
artifacts="$root/target/browser-artifacts"

echo "== browser tests: building dora-events"
cargo build --quiet --bin dora-events
bin="$target/debug/dora-events"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "== installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "== npm ci (playwright-core; no browser download)"
(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

work=$(mktemp -d)
server=""
cleanup() {
  if [[ -n "$server" ]]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  [[ -f "$work/server.log" ]] && cp "$work/server.log" "$artifacts/server.log"
  rm -rf "$work"
}
trap cleanup EXIT

rm -rf "$artifacts"
mkdir -p "$artifacts"
port=$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
base="http://127.0.0.1:$port"

# With tokens, as a server reachable by others runs: the tests use them as a user would.
export DORA_INGEST_TOKEN="browser-ingest-$RANDOM$RANDOM" DORA_READ_TOKEN="browser-read-$RANDOM$RANDOM"
echo "== starting dora-events on $base"
DORA_AUTH__INGEST_TOKENS="$DORA_INGEST_TOKEN" DORA_AUTH__READ_TOKENS="$DORA_READ_TOKEN" "$bin" --config tests/browser/fixtures/dora-events.toml --database-url "sqlite://$work/dora.db" \
  serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  "$bin" probe --url "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
"$bin" probe --url "$base/readyz" >/dev/null

echo "== posting the data set"
"$bin" send --url "$base" --token "$DORA_INGEST_TOKEN" tests/browser/fixtures/dataset.json tests/browser/fixtures/broken-kubernetes.json examples/tutorial/*.json

echo "== node --test tests/browser"
cd tests/browser
DORA_URL="$base" BROWSER_ARTIFACTS="$artifacts" CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" \
  node --test --test-concurrency=1 --test-reporter=spec dashboard.test.mjs
