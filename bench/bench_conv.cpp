// GroupConv2d against a plain torch::conv2d with the same expanded shapes and memory format, timed
// in the same iterations: train step (forward + backward) and eval forward. Counter `ratio` =
// median(GroupConv2d) / median(plain conv2d); `GFLOP/s` of GroupConv2d.
//
// Arguments: group (0 = C4, 1 = D4), batch, fields, size, channels_last (0/1).
#include <torch/torch.h>

#include "bench_util.h"
#include "eqnn/eqnn.h"

namespace {

using eqnn_bench::device;
using eqnn_bench::group_arg;
using eqnn_bench::paired;

/// A train step (forward + backward, fresh gradients) of `conv` against torch::conv2d on its
/// expanded filter (stride 1, `padding`) in the same iterations; `x_plain` is the baseline's copy
/// of the input, so neither accumulates into the other's input gradient.
template <typename Conv>
void paired_train_step(benchmark::State& state, Conv& conv, const torch::Tensor& x,
                       const torch::Tensor& x_plain, int64_t padding) {
  conv->to(x.device());
  const torch::Tensor grad_y =
      torch::randn(conv->forward(x).sizes(), x.device()).contiguous(x.suggest_memory_format());
  const torch::Tensor w = conv->expanded_weight().detach().clone().requires_grad_(true);
  const torch::Tensor b = conv->expanded_bias().detach().clone().requires_grad_(true);
  paired(
      state,
      [&] {
        conv->zero_grad(/*set_to_none=*/true);
        conv->forward(x).backward(grad_y);
      },
      [&] {
        w.mutable_grad() = torch::Tensor();
        b.mutable_grad() = torch::Tensor();
        torch::conv2d(x_plain, w, b, 1, padding).backward(grad_y);
      });
}

/// An eval-mode forward of `conv` (its cached filter) against torch::conv2d on the expanded filter.
template <typename Conv>
void paired_eval_forward(benchmark::State& state, Conv& conv, const torch::Tensor& x,
                         int64_t padding) {
  conv->to(x.device());
  conv->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor w = conv->expanded_weight().clone(), b = conv->expanded_bias().clone();
  paired(
      state, [&] { benchmark::DoNotOptimize(conv->forward(x)); },
      [&] { benchmark::DoNotOptimize(torch::conv2d(x, w, b, 1, padding)); });
}

struct Setup {
  eqnn::Group group;
  int64_t batch, fields, size, channels;
  at::MemoryFormat format;
  double flops;  // one forward, multiply-adds counted as 2

  explicit Setup(const benchmark::State& s)
      : group(group_arg(s.range(0))),
        batch(s.range(1)),
        fields(s.range(2)),
        size(s.range(3)),
        channels(fields * group.order()),
        format(s.range(4) ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous),
        flops(2.0 * batch * channels * channels * 9.0 * size * size) {}

  torch::Tensor input(bool requires_grad) const {
    return torch::randn({batch, channels, size, size}, device())
        .contiguous(format)
        .requires_grad_(requires_grad);
  }
};

void label(benchmark::State& state, const Setup& s, double passes) {
  state.counters["GFLOP/s"] = benchmark::Counter(
      s.flops * passes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.SetLabel(s.group.name() + (s.format == at::MemoryFormat::ChannelsLast ? " NHWC" : " NCHW"));
}

void BM_GroupConv2dTrainStep(benchmark::State& state) {
  const Setup s(state);
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(s.group, s.fields, s.fields, 3).padding(1));
  paired_train_step(state, conv, s.input(true), s.input(true), 1);
  label(state, s, 3.0);  // forward + input grad + weight grad
}

void BM_GroupConv2dEvalForward(benchmark::State& state) {
  const Setup s(state);
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(s.group, s.fields, s.fields, 3).padding(1));
  paired_eval_forward(state, conv, s.input(false), 1);
  label(state, s, 1.0);
}

/// EQNN_BENCH_FULL=1 adds batch 32 and 64x64 inputs (slow: minutes per case on 2 cores).
void conv_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"group", "batch", "fields", "size", "nhwc"});
  const bool full = std::getenv("EQNN_BENCH_FULL") != nullptr;
  const std::vector<int64_t> batches = full ? std::vector<int64_t>{8, 32} : std::vector<int64_t>{8};
  const std::vector<int64_t> sizes = full ? std::vector<int64_t>{32, 64} : std::vector<int64_t>{32};
  for (int64_t g : {0, 1})
    for (int64_t batch : batches)
      for (int64_t fields : {8, 16, 32})
        for (int64_t size : sizes)
          for (int64_t nhwc : {0, 1})
            b->Args({g, batch, fields, size, nhwc});
  b->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);
}

}  // namespace

BENCHMARK(BM_GroupConv2dEvalForward)->Apply(conv_args);
BENCHMARK(BM_GroupConv2dTrainStep)->Apply(conv_args);

namespace {

/// Steerable GroupConv2d (C8 or D8, regular -> regular) against a plain conv2d on its expanded
/// filter, same memory format, in the same iterations. Arguments: group (0 = C8, 1 = D8), kernel
/// size, fields, channels_last; batch 8, 32x32.
struct SteerableSetup {
  eqnn::Group group;
  int64_t kernel, fields, channels;
  at::MemoryFormat format;
  static constexpr int64_t kBatch = 8, kSize = 32;

  explicit SteerableSetup(const benchmark::State& s)
      : group(s.range(0) == 0 ? eqnn::Group::cyclic(8) : eqnn::Group::dihedral(8)),
        kernel(s.range(1)),
        fields(s.range(2)),
        channels(fields * group.order()),
        format(s.range(3) ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous) {}

  eqnn::GroupConv2d conv() const {
    return eqnn::GroupConv2d(
        eqnn::GroupConv2dOptions(group, fields, fields, kernel).padding(kernel / 2));
  }
  torch::Tensor input(bool requires_grad) const {
    return torch::randn({kBatch, channels, kSize, kSize}, device())
        .contiguous(format)
        .requires_grad_(requires_grad);
  }
  void label(benchmark::State& state) const {
    state.SetLabel(group.name() + " k" + std::to_string(kernel) +
                   (format == at::MemoryFormat::ChannelsLast ? " NHWC" : " NCHW"));
  }
};

void BM_SteerableConv2dTrainStep(benchmark::State& state) {
  const SteerableSetup s(state);
  eqnn::GroupConv2d conv = s.conv();
  paired_train_step(state, conv, s.input(true), s.input(true), s.kernel / 2);
  s.label(state);
}

void BM_SteerableConv2dEvalForward(benchmark::State& state) {
  const SteerableSetup s(state);
  eqnn::GroupConv2d conv = s.conv();
  paired_eval_forward(state, conv, s.input(false), s.kernel / 2);
  s.label(state);
}

void steerable_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"group", "k", "fields", "nhwc"});
  for (int64_t g : {0, 1})
    for (int64_t k : {3, 5})
      for (int64_t fields : {4, 8})
        for (int64_t nhwc : {0, 1})
          b->Args({g, k, fields, nhwc});
  b->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);
}

/// Building a layer's steerable basis and its samples for every element (escnn #54: users waited
/// minutes for model construction). Arguments: N of C_N, kernel size.
void BM_SteerableBasis(benchmark::State& state) {
  const eqnn::Group group = eqnn::Group::cyclic(state.range(0));
  for (auto _ : state) {
    const eqnn::SteerableBasis basis(state.range(1));
    benchmark::DoNotOptimize(basis.sample(group));
  }
  state.SetLabel("C" + std::to_string(state.range(0)) + " k" + std::to_string(state.range(1)));
}

}  // namespace

BENCHMARK(BM_SteerableConv2dTrainStep)->Apply(steerable_args);
BENCHMARK(BM_SteerableConv2dEvalForward)->Apply(steerable_args);
BENCHMARK(BM_SteerableBasis)->Args({8, 5})->Args({16, 9})->Unit(benchmark::kMillisecond);

namespace {

/// The lifting layer from a 1-channel image (D4 = p4m, batch 32, 16 fields, 32x32, NCHW) against a
/// plain conv2d on its expanded filter. Its memory traffic is mostly fresh 2 MiB feature maps, so
/// it is the case that shows the allocator: run it once as is (the library's default tuning) and
/// once with EQNN_TUNE_ALLOCATOR=0 (glibc's defaults; bench/run.sh does both). Argument: kernel
/// size.
struct LiftingSetup {
  static constexpr int64_t kBatch = 32, kFields = 16, kSize = 32;
  int64_t kernel;
  explicit LiftingSetup(const benchmark::State& s) : kernel(s.range(0)) {}
  eqnn::LiftingConv2d conv() const {
    return eqnn::LiftingConv2d(
        eqnn::LiftingConv2dOptions(eqnn::Group::d4(), 1, kFields, kernel).padding(kernel / 2));
  }
  void label(benchmark::State& state) const {
    state.SetLabel("D4 1->16 k" + std::to_string(kernel) + " NCHW, allocator " +
                   (eqnn::apply_default_allocator_tuning() ? "tuned" : "glibc"));
  }
};

void BM_LiftingConv2dTrainStep(benchmark::State& state) {
  const LiftingSetup s(state);
  eqnn::LiftingConv2d conv = s.conv();
  const torch::Tensor x = torch::randn({s.kBatch, 1, s.kSize, s.kSize}, device());
  paired_train_step(state, conv, x, x, s.kernel / 2);  // no input gradient to share
  s.label(state);
}

void BM_LiftingConv2dEvalForward(benchmark::State& state) {
  const LiftingSetup s(state);
  eqnn::LiftingConv2d conv = s.conv();
  paired_eval_forward(state, conv, torch::randn({s.kBatch, 1, s.kSize, s.kSize}, device()),
                      s.kernel / 2);
  s.label(state);
}

}  // namespace

BENCHMARK(BM_LiftingConv2dTrainStep)
    ->ArgName("kernel")
    ->Arg(3)
    ->Arg(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);
BENCHMARK(BM_LiftingConv2dEvalForward)
    ->ArgName("kernel")
    ->Arg(3)
    ->Arg(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);
