// GroupConv2d against a plain torch::conv2d with the same expanded shapes, in the same run.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "eqnn/eqnn.h"

namespace {

// args: group (0 = C4, 1 = D4), batch, fields, size
eqnn::Group group_arg(int64_t g) {
  return g == 0 ? eqnn::Group::c4() : eqnn::Group::d4();
}

void set_counters(benchmark::State& state, const eqnn::Group& g, int64_t batch, int64_t fields,
                  int64_t size) {
  const double channels = static_cast<double>(fields * g.order());
  const double flops = 2.0 * batch * channels * channels * 9.0 * size * size;
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.SetLabel(g.name());
}

void BM_GroupConv2dForward(benchmark::State& state) {
  const eqnn::Group g = group_arg(state.range(0));
  const int64_t batch = state.range(1), fields = state.range(2), size = state.range(3);
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, fields, fields, 3).padding(1));
  conv->eval();
  const torch::Tensor x = torch::randn({batch, fields * g.order(), size, size});
  torch::NoGradGuard no_grad;
  for (auto _ : state)
    benchmark::DoNotOptimize(conv->forward(x));
  set_counters(state, g, batch, fields, size);
}

void BM_PlainConv2dForward(benchmark::State& state) {
  const eqnn::Group g = group_arg(state.range(0));
  const int64_t batch = state.range(1), fields = state.range(2), size = state.range(3);
  const int64_t c = fields * g.order();
  const torch::Tensor w = torch::randn({c, c, 3, 3}), b = torch::randn({c});
  const torch::Tensor x = torch::randn({batch, c, size, size});
  torch::NoGradGuard no_grad;
  for (auto _ : state)
    benchmark::DoNotOptimize(torch::conv2d(x, w, b, 1, 1));
  set_counters(state, g, batch, fields, size);
}

void conv_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"group", "batch", "fields", "size"});
  for (int64_t g : {0, 1})
    for (int64_t fields : {8, 16})
      b->Args({g, 8, fields, 32});
  b->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_GroupConv2dForward)->Apply(conv_args);
BENCHMARK(BM_PlainConv2dForward)->Apply(conv_args);

int main(int argc, char** argv) {
  eqnn::configure_threads();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("threads", std::to_string(at::get_num_threads()));
  benchmark::AddCustomContext("libtorch", TORCH_VERSION);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
