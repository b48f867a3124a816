#!/usr/bin/env bash
# The GPU checks in one command, for a session that is lent a GPU machine (the `device` tool; see
# bench/analysis.md, "GPU runs"): builds eqnn against the machine's PyTorch LibTorch with the CUDA
# kernels, runs the CUDA tests and then the whole suite, the layer and kernel benchmarks on the
# GPU, and a short float16 and bfloat16 training run of the p4m G-CNN on the GPU. Every log and
# result goes to $OUT (the device tool's output folder; default build-gpu/out).
#   here:  scripts/gpu_deps.sh      # once: the build dependencies the GPU machine lacks
#   there: scripts/gpu_check.sh     # carry .gpu-deps; at most BUDGET_S seconds (540)
# STEPS (default "build cuda-tests bench train tests", run in that order) picks steps;
# BENCH_FILTER the benchmarks. Each step's outcome is one line of $OUT/summary.txt; the script goes
# on after a failed step (except a failed build, which lists every compile error: ninja -k 0) and
# exits non-zero if any failed. BUDGET_S (default 540) is the whole script's time: each step is
# stopped (timeout) when its own cap or what is left of the budget runs out, so that the summary
# always comes back inside one device call.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/build-gpu/out}
BUILD_DIR=${BUILD_DIR:-build-gpu}
STEPS=${STEPS:-build cuda-tests bench train tests}
BUDGET_S=${BUDGET_S:-540}
BENCH_FILTER=${BENCH_FILTER:-BM_GroupConv2d|BM_LiftingConv2d|BM_SteerableConv2d|BM_GroupPool|BM_GroupAction|BM_ExpandFilter}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: >"$summary"
failed=0
note() { echo "$*" | tee -a "$summary"; }
wants() { [[ " $STEPS " == *" $1 "* ]]; }
run_step() {  # run_step NAME LOG CAP_S COMMAND...: output in $OUT/LOG, a line in the summary
  local name=$1 log=$2 cap=$3
  shift 3
  local left=$((BUDGET_S - SECONDS - 10))
  [ "$left" -lt "$cap" ] && cap=$left
  if [ "$cap" -le 5 ]; then
    note "skip $name (no time left in BUDGET_S=$BUDGET_S)"
    failed=1
    return 1
  fi
  local start=$SECONDS
  if timeout --kill-after=5 "$cap" "$@" >"$OUT/$log" 2>&1; then
    note "ok   $name ($((SECONDS - start)) s, $log)"
  else
    local rc=$?
    note "FAIL $name ($((SECONDS - start)) s, $log: exit $rc$([ "$rc" = 124 ] && echo ", timed out at ${cap} s"))"
    tail -n 30 "$OUT/$log"
    failed=1
    return 1
  fi
}

deps="$PWD/.gpu-deps/usr"
[ -d "$deps" ] || note "note: no .gpu-deps (scripts/gpu_deps.sh): the system's packages must do"
export LD_LIBRARY_PATH="$deps/lib/x86_64-linux-gnu:$deps/lib:${LD_LIBRARY_PATH:-}"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
note "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1)"
note "torch: $(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)')"
note "nvcc: $(nvcc --version | tail -n 1)"
jobs=$(nproc)

if wants build; then
  run_step configure configure.log 120 cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps" -DEQNN_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 ||
    exit 1
  grep -E "^-- eqnn:" "$OUT/configure.log" | tee -a "$summary"
  if ! run_step build build.log 360 cmake --build "$BUILD_DIR" --parallel "$jobs" -- -k 0; then
    grep -E "error:|Error [0-9]|FAILED:" "$OUT/build.log" | sort -u | head -n 80 | tee -a "$summary"
    exit 1
  fi
fi

if wants cuda-tests; then  # the [cuda] test cases alone first: the kernels' first run on a GPU
  run_step cuda-tests cuda-tests.log 120 "$BUILD_DIR/tests/eqnn_tests" "[cuda]" --durations yes
fi

if wants bench; then  # run.sh's JSON format, on the GPU; copy it to bench/results/ and render
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
  run_step bench bench.log 200 env EQNN_BENCH_DEVICE=cuda "$BUILD_DIR/bench/eqnn_bench" \
    --benchmark_filter="$BENCH_FILTER" --benchmark_out="$OUT/gpu.json" \
    --benchmark_out_format=json --benchmark_context=cpu_model="$(grep -m1 'model name' \
    /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" --benchmark_context=gpu="$gpu" \
    --benchmark_context=date="$(date -u +%Y-%m-%d)"
fi

if wants train; then  # synthetic 28x28 IDX data: the GPU machine has no data sets
  data="$BUILD_DIR/gpu-data"
  mkdir -p "$data"
  python3 - "$data" <<'EOF'
import gzip, random, struct, sys
random.seed(0)
def write(name, dims, payload):
    with gzip.open(f"{sys.argv[1]}/{name}", "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims))
        f.write(bytes(payload))
for split, n in (("train", 2048), ("t10k", 512)):
    labels = [random.randrange(10) for _ in range(n)]
    images = bytearray()
    for c in labels:  # noise, and a bright square per class: something to learn
        image = bytearray(random.randrange(64) for _ in range(28 * 28))
        y, x = divmod(c, 4)
        for r in range(4 + 6 * y, 8 + 6 * y):
            image[r * 28 + 4 + 6 * x:r * 28 + 8 + 6 * x] = b"\xff" * 4
        images += image
    write(f"{split}-images-idx3-ubyte.gz", (n, 28, 28), images)
    write(f"{split}-labels-idx1-ubyte.gz", (n,), labels)
EOF
  for precision in fp16 bf16 fp32; do
    run_step "train --device cuda --precision $precision" "train-$precision.log" 60 \
      "$BUILD_DIR/apps/eqnn/eqnn" train --arch gcnn --group p4m --data "$data" --epochs 2 \
      --device cuda --precision "$precision" --checkpoint "$BUILD_DIR/gpu-$precision.pt" --force
    grep -E "test accuracy|training done" "$OUT/train-$precision.log" | tee -a "$summary"
  done
fi

if wants tests; then  # the whole suite last: on the GPU machine the CUDA paths of every test run
  run_step tests tests.log 300 ctest --test-dir "$BUILD_DIR" --output-on-failure --parallel 12 \
    --timeout 240
  grep -E "tests passed|Skipped|Failed" "$OUT/tests.log" | tail -n 12 >>"$summary"
fi

note "gpu_check.sh: $([ "$failed" = 0 ] && echo "every step passed" || echo "a step FAILED")"
exit "$failed"
