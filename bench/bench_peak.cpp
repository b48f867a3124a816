// The machine's fp32 FMA peak, so RESULTS.md can state each convolution as a fraction of it. No
// LibTorch here (only the thread count).
//
// What a peak needs, and how each is met:
// - Enough independent FMA chains per thread: an FMA has 4-5 cycles of latency and current x86
//   cores issue two per cycle, so at least 8-10 must be in flight. The AVX2 variant keeps 14 chains
//   (14 accumulators + 2 constants = the 16 ymm registers), the AVX-512 one 24 (of 32 zmm).
// - The widest FMA the CPU has: an AVX2+FMA and an AVX-512F variant (compiled with
//   __attribute__((target(...))), chosen at run time with __builtin_cpu_supports). Both run where
//   AVX-512F exists and the faster counts: a CPU with one 512-bit FMA port (or Zen 4's
//   double-pumped one) gets as much from AVX2, and AVX-512 may lower the clock.
// - Every thread (at::get_num_threads(): all hardware threads unless OMP_NUM_THREADS says
//   otherwise), started together: the threads exist before a round starts and spin on a flag, and a
//   round is timed from the release to the last thread's end.
// - The best round: anything else on the machine (another build on a shared core) can only make a
//   round slower, so the counter "GFLOP/s" (what bench/render.py reads) is the best round's rate,
//   not the mean.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>

namespace {

constexpr int64_t kIterations = 1 << 21;
constexpr int kChainsAvx2 = 14;
constexpr int kChainsAvx512 = 24;

// acc = acc * a + b converges to b / (1 - a) = 0.1: no overflow, no denormals.
__attribute__((target("avx512f"))) float fma_chains_avx512(float seed) {
  __m512 acc[kChainsAvx512];
  for (int i = 0; i < kChainsAvx512; ++i)
    acc[i] = _mm512_set1_ps(seed + static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t n = 0; n < kIterations; ++n)
#pragma GCC unroll 32  // every accumulator in a register: a loop over memory would be latency-bound
    for (int i = 0; i < kChainsAvx512; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 sum = acc[0];
  for (int i = 1; i < kChainsAvx512; ++i)
    sum = _mm512_add_ps(sum, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  float total = 0;
  for (float v : lanes)
    total += v;
  return total;
}

__attribute__((target("avx2,fma"))) float fma_chains_avx2(float seed) {
  __m256 acc[kChainsAvx2];
  for (int i = 0; i < kChainsAvx2; ++i)
    acc[i] = _mm256_set1_ps(seed + static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t n = 0; n < kIterations; ++n)
#pragma GCC unroll 32  // every accumulator in a register: a loop over memory would be latency-bound
    for (int i = 0; i < kChainsAvx2; ++i)
      acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 sum = acc[0];
  for (int i = 1; i < kChainsAvx2; ++i)
    sum = _mm256_add_ps(sum, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  float total = 0;
  for (float v : lanes)
    total += v;
  return total;
}

struct Variant {
  const char* name;
  float (*run)(float);
  double flops_per_thread;  // per call
  double best_seconds = 0;  // of a round on every thread; 0: not run yet
};

/// One round: `threads` threads, already started, run `v` at once; returns the wall time from the
/// release to the last thread's end.
double timed_round(const Variant& v, int threads) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<float> sink{0};
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      sink.store(v.run(static_cast<float>(t)), std::memory_order_relaxed);
    });
  }
  while (ready.load() < threads) {
  }
  const auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : pool)
    th.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  benchmark::DoNotOptimize(sink.load());
  return seconds;
}

void BM_FmaPeak(benchmark::State& state) {
  std::vector<Variant> variants;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    variants.push_back({"AVX2", fma_chains_avx2, 2.0 * 8 * kChainsAvx2 * kIterations});
  if (__builtin_cpu_supports("avx512f"))
    variants.push_back({"AVX-512", fma_chains_avx512, 2.0 * 16 * kChainsAvx512 * kIterations});
  if (variants.empty()) {
    state.SkipWithError("the CPU has neither AVX2+FMA nor AVX-512F");
    return;
  }
  const int threads = std::max(1, at::get_num_threads());
  size_t round = 0;
  for (auto _ : state) {
    Variant& v = variants[round++ % variants.size()];
    const double seconds = timed_round(v, threads);
    state.SetIterationTime(seconds);
    if (v.best_seconds == 0 || seconds < v.best_seconds) v.best_seconds = seconds;
  }
  const Variant* best = nullptr;
  std::string label;
  for (const Variant& v : variants) {
    if (v.best_seconds == 0) continue;
    const double rate = v.flops_per_thread * threads / v.best_seconds;
    label += std::string(label.empty() ? "" : ", ") + v.name + " " +
             std::to_string(static_cast<int64_t>(rate / 1e9)) + " GFLOP/s";
    if (!best || rate > best->flops_per_thread * threads / best->best_seconds) best = &v;
  }
  if (!best) return;
  state.counters["GFLOP/s"] =
      benchmark::Counter(best->flops_per_thread * threads / best->best_seconds,
                         benchmark::Counter::kDefaults, benchmark::Counter::kIs1000);
  state.SetLabel(std::string(best->name) + " fp32 FMA, " + std::to_string(threads) +
                 " threads, best round (" + label + ")");
}

}  // namespace

BENCHMARK(BM_FmaPeak)->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(0.5);
