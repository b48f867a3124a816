// Benchmark driver: all hardware threads (unless OMP_NUM_THREADS is set), run context recorded.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "eqnn/eqnn.h"

int main(int argc, char** argv) {
  const int threads = eqnn::configure_threads();
  eqnn::tune_allocator();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("torch_threads", std::to_string(threads));
  benchmark::AddCustomContext("libtorch", TORCH_VERSION);
  benchmark::AddCustomContext("eqnn", EQNN_VERSION_STRING);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
