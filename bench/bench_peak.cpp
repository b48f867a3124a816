// The machine's fp32 FMA peak: independent FMA chains on every thread (AVX-512 when the CPU has it,
// else AVX2), so RESULTS.md can state each convolution as a fraction of peak. No LibTorch here.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <atomic>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>

namespace {

constexpr int64_t kIterations = 1 << 22;

// 12 independent accumulators hide the FMA latency (4 cycles x 2 ports + slack).
__attribute__((target("avx512f"))) float fma_chains_avx512(float seed) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i)
    acc[i] = _mm512_set1_ps(seed + i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t n = 0; n < kIterations; ++n)
    for (int i = 0; i < 12; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 sum = acc[0];
  for (int i = 1; i < 12; ++i)
    sum = _mm512_add_ps(sum, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  float total = 0;
  for (float v : lanes)
    total += v;
  return total;
}

__attribute__((target("avx2,fma"))) float fma_chains_avx2(float seed) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i)
    acc[i] = _mm256_set1_ps(seed + i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t n = 0; n < kIterations; ++n)
    for (int i = 0; i < 12; ++i)
      acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  float out[8];
  __m256 sum = acc[0];
  for (int i = 1; i < 12; ++i)
    sum = _mm256_add_ps(sum, acc[i]);
  _mm256_storeu_ps(out, sum);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

void BM_FmaPeak(benchmark::State& state) {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const int lanes = avx512 ? 16 : 8;
  const int threads = at::get_num_threads();
  for (auto _ : state) {
    std::vector<std::thread> pool;
    std::atomic<float> sink{0};
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const float r = avx512 ? fma_chains_avx512(static_cast<float>(t))
                               : fma_chains_avx2(static_cast<float>(t));
        sink.store(r);
      });
    }
    for (auto& th : pool)
      th.join();
    benchmark::DoNotOptimize(sink.load());
  }
  const double flops = 2.0 * lanes * 12.0 * kIterations * threads;
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.SetLabel(std::string(avx512 ? "AVX-512" : "AVX2") + " fp32 FMA, " +
                 std::to_string(threads) + " threads");
}

}  // namespace

BENCHMARK(BM_FmaPeak)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
