// Helpers for the benchmarks: paired timing of "ours" against a baseline in the same iteration.
#pragma once

#include <benchmark/benchmark.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <vector>

#include "eqnn/group.h"

namespace eqnn_bench {

/// The device the layer and kernel benchmarks run on: EQNN_BENCH_DEVICE (cpu, cuda or cuda:N;
/// default cpu). The others (probe, distributed, FMA peak) run on the CPU regardless.
inline const torch::Device& device() {
  static const torch::Device d = [] {
    const char* name = std::getenv("EQNN_BENCH_DEVICE");
    return torch::Device(name != nullptr && *name != '\0' ? name : "cpu");
  }();
  return d;
}

/// Waits for the work queued on device() (nothing to wait for on the CPU): called before every
/// clock reading of a timed call, so that a GPU's asynchronous launches are timed to completion.
inline void sync() {
  if (device().is_cuda()) torch::cuda::synchronize(device().index());
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

/// Runs ours() and baseline() once per iteration, alternating which goes first, and reports the
/// iteration time of ours (manual time) plus counters: ratio = median(ours) / median(baseline),
/// ours_ms, baseline_ms. Each call is timed to the completion of its device work (sync()).
inline void paired(benchmark::State& state, const std::function<void()>& ours,
                   const std::function<void()>& baseline) {
  ours();  // warm-up: allocations, oneDNN primitive caches, the eval filter cache
  baseline();
  sync();
  std::vector<double> t_ours, t_base;
  bool ours_first = true;
  for (auto _ : state) {
    double a = 0, b = 0;
    for (int k = 0; k < 2; ++k) {
      const bool run_ours = (k == 0) == ours_first;
      const auto start = std::chrono::steady_clock::now();
      (run_ours ? ours : baseline)();
      sync();
      (run_ours ? a : b) = seconds_since(start);
    }
    ours_first = !ours_first;
    t_ours.push_back(a);
    t_base.push_back(b);
    state.SetIterationTime(a);
  }
  const double mo = median(t_ours), mb = median(t_base);
  state.counters["ratio"] = mb > 0 ? mo / mb : 0;
  state.counters["ours_ms"] = mo * 1e3;
  state.counters["baseline_ms"] = mb * 1e3;
}

inline eqnn::Group group_arg(int64_t g) {
  return g == 0 ? eqnn::Group::c4() : eqnn::Group::d4();
}

}  // namespace eqnn_bench
