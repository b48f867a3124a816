// Benchmark driver: all hardware threads (unless OMP_NUM_THREADS is set), run context recorded.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <iostream>

#include "bench_util.h"
#include "eqnn/eqnn.h"

int main(int argc, char** argv) {
  const int threads = eqnn::configure_threads();
  // The library default (EQNN_TUNE_ALLOCATOR=0: glibc as it comes, for the allocator benchmark).
  const bool tuned = eqnn::apply_default_allocator_tuning();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {  // EQNN_BENCH_DEVICE: checked once, before any benchmark allocates there
    const torch::Device& device = eqnn_bench::device();
    if (device.is_cuda() && !torch::cuda::is_available()) {
      std::cerr << "eqnn_bench: EQNN_BENCH_DEVICE=" << device
                << ", but this LibTorch has no CUDA or no GPU is visible\n";
      return 2;
    }
    benchmark::AddCustomContext("bench_device", device.str());
  } catch (const c10::Error& e) {
    std::cerr << "eqnn_bench: EQNN_BENCH_DEVICE: " << e.what_without_backtrace() << "\n";
    return 2;
  }
  benchmark::AddCustomContext("torch_threads", std::to_string(threads));
  benchmark::AddCustomContext("libtorch", TORCH_VERSION);
  benchmark::AddCustomContext("eqnn", EQNN_VERSION_STRING);
  benchmark::AddCustomContext("allocator", tuned ? "eqnn default" : "glibc default");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
