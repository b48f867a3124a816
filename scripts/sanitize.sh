#!/usr/bin/env bash
# The test suite and the libFuzzer targets under AddressSanitizer + UndefinedBehaviorSanitizer
# (clang, CMake preset "sanitize", in build-sanitize/): builds, runs every test, then runs each fuzz
# target on its corpus for EQNN_FUZZ_SECONDS seconds (default 20). Any sanitizer report fails.
#   scripts/sanitize.sh                       # tests + fuzz targets
#   scripts/sanitize.sh --fuzz-only           # builds the library and the fuzz targets only
#   EQNN_FUZZ_SECONDS=600 scripts/sanitize.sh --fuzz-only   # a longer fuzzing session
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=build-sanitize
seconds=${EQNN_FUZZ_SECONDS:-20}
mode=${1:-all}
case "$mode" in all | --fuzz-only) ;; *) echo "usage: $0 [--fuzz-only]" >&2; exit 2 ;; esac
scripts/setup.sh
[ -f "$BUILD_DIR/build.ninja" ] || cmake --preset sanitize >/dev/null
start=$SECONDS
if [ "$mode" = --fuzz-only ]; then
  cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target eqnn_fuzz
else
  cmake --build "$BUILD_DIR" --parallel "$(nproc)"
fi
echo "== sanitized build done in $((SECONDS - start)) s"

# LibTorch keeps its operator registry until exit (not leaks eqnn can fix): leak checks are off.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ "$mode" = all ]; then
  start=$SECONDS
  (cd "$BUILD_DIR" && ctest --output-on-failure --parallel "$(nproc)")
  echo "== sanitized test suite passed in $((SECONDS - start)) s"
fi

declare -A max_len=([idx]=8192 [checkpoint]=65536 [cli_lists]=1024)
for target in idx checkpoint cli_lists; do
  work="$BUILD_DIR/fuzz-corpus/$target"  # new inputs go here; the committed seeds stay as they are
  mkdir -p "$work"
  log="$BUILD_DIR/fuzz-$target.log"
  if ! "$BUILD_DIR/fuzz/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -max_len="${max_len[$target]}" \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$BUILD_DIR/fuzz-$target-" \
    "$work" "fuzz/corpus/$target" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "sanitize.sh: FAIL: fuzz_$target found a crash (input saved as $BUILD_DIR/fuzz-$target-*)" >&2
    exit 1
  fi
  runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "== fuzz_$target: $runs executions in ${seconds} s, no crash"
done
