#!/usr/bin/env bash
# Schema-driven API tests: schemathesis (from PyPI, into ~/.cache) generates requests from the
# server's own /openapi.json and checks that none answers 5xx, that every request the
# description allows is taken, and that every answer matches its description (status, content
# type, headers, body schema). It runs against a debug build with ingest and read tokens, on a
# fresh SQLite file and on a fresh PostgreSQL database (DATABASE_URL), a bounded number of
# examples per operation (API_FUZZ_EXAMPLES, default 40).
#
# The fuzzing phase runs (the coverage phase's boundary cases skip the hooks below). Two rules a
# JSON Schema cannot state across fields are hooks (tests/schemathesis/hooks.py):
# `from` before `to` (with at most 1000 buckets), and `data` or `data_base64`, not both.
# POST /cdevents and POST /webhooks/{tool} run without the acceptance check: their bodies are
# the official CDEvents schemas of each event type (by reference) and each tool's own payload
# with its headers, which the description names but does not inline; every other check applies.
# Schema-violating requests that are accepted are not failures: text limits are bytes of UTF-8,
# and the description states them as the character counts that always fit (bytes / 4).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
examples=${API_FUZZ_EXAMPLES:-40}
TOOLS=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/dora-events/api-fuzz
VERSION=4.32.5
if ! "$TOOLS/venv/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
  echo "== installing schemathesis $VERSION"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q "schemathesis==$VERSION"
fi
st="$TOOLS/venv/bin/schemathesis"

cargo build --quiet --bin dora-events
bin="${CARGO_TARGET_DIR:-$root/target}/debug/dora-events"
token="api-fuzz-$RANDOM$RANDOM"
work=$(mktemp -d)
server=""
cleanup() {
  [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

run_against() { # NAME DATABASE_URL
  local name=$1 url=$2 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  DORA_AUTH__INGEST_TOKENS="$token" DORA_AUTH__READ_TOKENS="$token" \
    "$bin" --database-url "$url" serve --listen "127.0.0.1:$port" >"$work/$name.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do "$bin" probe --url "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  local common=(--header "Authorization: Bearer $token" --max-examples "$examples" --seed 20261205
    --generation-deterministic --no-color --suppress-health-check all --phases fuzzing)
  local checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
  echo "== schemathesis on $name: every operation but /cdevents and the webhooks"
  SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$root/tests/schemathesis" "$st" run "http://127.0.0.1:$port/openapi.json" \
    "${common[@]}" --checks "$checks,positive_data_acceptance" \
    --exclude-path /cdevents --exclude-path '/webhooks/{tool}'
  echo "== schemathesis on $name: /cdevents and the webhooks (no acceptance check)"
  SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$root/tests/schemathesis" "$st" run "http://127.0.0.1:$port/openapi.json" \
    "${common[@]}" --checks "$checks" --include-path /cdevents --include-path '/webhooks/{tool}'
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  if grep -q "panicked" "$work/$name.log"; then
    echo "the server panicked on $name:" >&2; grep -A5 panicked "$work/$name.log" >&2; exit 1
  fi
}

run_against sqlite "sqlite://$work/api-fuzz.db"
if [[ -n "${DATABASE_URL:-}" ]]; then
  db="dora_test_apifuzz_$RANDOM"
  psql "$DATABASE_URL" -qc "CREATE DATABASE $db"
  run_against postgres "${DATABASE_URL%/*}/$db"
  psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
elif [[ "${CI:-}" == "true" ]]; then
  echo "DATABASE_URL is not set: the PostgreSQL run cannot be skipped in CI" >&2; exit 1
fi
echo "== api fuzz passed"
