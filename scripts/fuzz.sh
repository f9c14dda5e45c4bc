#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target of fuzz/ for a bounded time (docs/fuzzing.md):
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# SECONDS_PER_TARGET defaults to 60; targets default to all (`cargo fuzz list`). Installs
# cargo-fuzz if missing, seeds fuzz/corpus/<target>/ from the fixtures (fuzz/seed.sh), builds
# the targets with AddressSanitizer and debug assertions, then runs them one after another, one
# process at a time. Exits 1 if any target crashed (panic, sanitizer report, timeout or out of
# memory); the input is in fuzz/artifacts/<target>/ and the log in fuzz/logs/<target>.log.
# Only the stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets it take the sanitizer flags.
# FUZZ_TARGET_DIR=DIR builds in DIR instead of fuzz/target (keep it between CI runs: a build from
# scratch compiles every dependency again with the sanitizer, which takes long).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_PER_TARGET=${1:-60}
shift || true
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
BUILD_FLAGS=(-O -a)
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
  BUILD_FLAGS+=(--target-dir "$FUZZ_TARGET_DIR")
fi
# The bundled SQLite (linked through dora-store) has two static arrays of the same name, which
# AddressSanitizer's ODR check takes for a violation at start-up.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

echo "== seeding fuzz/corpus from the fixtures"
bash seed.sh

# The committed lock file must be current, as the workspace's is: a dependency added to a crate the
# targets link would otherwise drift in unnoticed.
if ! cargo metadata --locked --format-version 1 >/dev/null; then
  echo "fuzz/Cargo.lock is out of date: run \`cargo metadata --format-version 1 >/dev/null\` in fuzz/ and commit it" >&2
  exit 1
fi

echo "== building the fuzz targets (AddressSanitizer, debug assertions)"
start=$(date +%s)
cargo fuzz build "${BUILD_FLAGS[@]}"
echo "built in $(($(date +%s) - start)) s"

# The dictionary of each target: fuzz/dict/*.dict files, joined.
dicts_of() {
  case "$1" in
    binding | webhooks) echo "http.dict json.dict" ;;
    rules_compile) echo "jq.dict" ;;
    *) echo "json.dict" ;;
  esac
}

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi
mkdir -p logs
failed=()
for target in "${targets[@]}"; do
  dict="logs/$target.dict"
  # shellcheck disable=SC2046
  (cd dict && cat $(dicts_of "$target")) >"$dict"
  echo "== fuzzing $target for ${SECONDS_PER_TARGET} s"
  if cargo fuzz run "${BUILD_FLAGS[@]}" "$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -dict="$dict" -print_final_stats=1 >"logs/$target.log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done ' "logs/$target.log" || true
    grep -E "#[0-9]+[[:space:]]+DONE" "logs/$target.log" | tail -n 1 || true
  else
    echo "!! $target crashed: see fuzz/logs/$target.log and fuzz/artifacts/$target/"
    grep -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)|SUMMARY' "logs/$target.log" | head -n 5 || true
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]}"
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, ${SECONDS_PER_TARGET} s each, no crash"
