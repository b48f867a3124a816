#!/usr/bin/env bash
# Runs the benchmark suite with all hardware threads (unless OMP_NUM_THREADS is set), writes the
# JSON to bench/results/<name>.json and renders bench/RESULTS.md from every JSON there.
#   bench/run.sh                 # quick set: batch 8, 32x32 (about 10 minutes on 2 cores)
#   EQNN_BENCH_FULL=1 bench/run.sh   # adds batch 32 and 64x64 (much longer)
#   bench/run.sh --benchmark_filter=Kernel   # extra arguments go to Google Benchmark
# Then the lifting-layer case again with EQNN_TUNE_ALLOCATOR=0 (glibc's malloc defaults) into
# bench/results/<name>-glibc-malloc.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
NAME=${NAME:-cpu}
scripts/build.sh >/dev/null
mkdir -p bench/results
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//' || echo unknown)
gpu=$(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader | head -1 || echo none)
"$BUILD_DIR/bench/eqnn_bench" \
  --benchmark_out="bench/results/$NAME.json" --benchmark_out_format=json \
  --benchmark_context=cpu_model="$cpu_model" --benchmark_context=gpu="$gpu" \
  --benchmark_context=date="$(date -u +%Y-%m-%d)" "$@"
# The allocator case once more with glibc's defaults (what a program gets with the library's
# tuning switched off), into its own file; EQNN_BENCH_SKIP_GLIBC=1 skips it.
if [[ -z "${EQNN_BENCH_SKIP_GLIBC:-}" ]]; then
  EQNN_TUNE_ALLOCATOR=0 "$BUILD_DIR/bench/eqnn_bench" --benchmark_filter=BM_LiftingConv2d \
    --benchmark_out="bench/results/$NAME-glibc-malloc.json" --benchmark_out_format=json \
    --benchmark_context=cpu_model="$cpu_model" --benchmark_context=gpu="$gpu" \
    --benchmark_context=date="$(date -u +%Y-%m-%d)"
fi
python3 bench/render.py bench/results/*.json > bench/RESULTS.md
echo "wrote bench/RESULTS.md"
