// The cost of a probe against plain forward passes, in the same iterations: probing N samples under
// |G| transforms should cost at most 1.1 x (|G| + 1) forward passes of N samples (issue target).
// Counter `ratio` = probe time / ((|G| + 1) x one forward of N samples).
//
// BM_ProbeCost: model (0 = p4m G-CNN, 1 = plain CNN), samples N, width (0 = the models' defaults,
// else the first and second blocks' widths width, 2 * width), output_only (1: the output KL
// alone, the probe's cheapest use). 28x28 inputs, D4 transforms, inference mode, channels_last.
// Target 1.1.
// BM_ProbeCostTorchScript: the ResNet-style TorchScript model of tests/data/torchscript (trained in
// PyTorch; skip connections, functional ReLU) probed at 14 named submodules, against its own
// forward. Target 1.25.
// BM_StageSums: the fused per-stage pass alone against one ATen read of the same tensor.
// BM_LieDerivativeCost: the Lie derivatives of every stage under one generator (rotation) of N
// samples against 3 forward passes of N samples (issue target: ratio <= 1; the estimate itself is
// 2 forwards of the moved copies); model 0 = p4m G-CNN, 1 = plain CNN.
#include <c10/core/InferenceMode.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "../src/probe/stage_sums.h"
#include "bench_util.h"
#include "eqnn/eqnn.h"

namespace {

void BM_ProbeCost(benchmark::State& state) {
  const bool gcnn = state.range(0) == 0;
  const int64_t n = state.range(1);
  eqnn::ModelSpec spec;
  spec.arch = gcnn ? "gcnn" : "cnn";
  spec.group = "d4";
  if (state.range(2) > 0) {
    spec.width1 = state.range(2);
    spec.width2 = 2 * state.range(2);
  }
  torch::manual_seed(0);
  auto net = eqnn::build_model(spec);
  net->eval();
  const auto model = eqnn::probe::model_of(net, spec.describe());
  const eqnn::Group g = eqnn::Group::d4();
  const auto transforms = eqnn::probe::group_transforms(g);
  const torch::Tensor x = torch::rand({n, 1, 28, 28});
  // the forward baseline in the probe's memory format (channels_last strides, free for 1 channel)
  const torch::Tensor x_cl = x.as_strided(x.sizes(), {28 * 28, 1, 28, 1});
  eqnn::probe::ProbeOptions options;
  const bool output_only = state.range(3) == 1;
  if (output_only) options.metrics = {eqnn::probe::Metric::OutputKL};
  eqnn_bench::paired(
      state,
      [&] { benchmark::DoNotOptimize(eqnn::probe::run_probe(model, x, transforms, options)); },
      [&] {
        c10::InferenceMode inference;
        for (int i = 0; i < g.order() + 1; ++i)
          benchmark::DoNotOptimize(net->forward(x_cl));
      });
  state.SetLabel(spec.describe() + ", D4 (8 elements)" + (output_only ? ", output KL only" : ""));
}

void BM_ProbeCostTorchScript(benchmark::State& state) {
  const int64_t n = state.range(0);
  torch::jit::Module module = eqnn::probe::load_torchscript(std::string(EQNN_BENCH_DATA_DIR) +
                                                            "/torchscript/resnet_scripted.pt");
  module.eval();
  eqnn::probe::CaptureOptions capture;
  capture.modules = {"stem",
                     "stem.0",
                     "layer1",
                     "layer1.0",
                     "layer1.0.conv1",
                     "layer1.1",
                     "layer2.0",
                     "layer2.0.conv2",
                     "layer2.0.downsample",
                     "layer2.1",
                     "layer3",
                     "layer3.0.downsample.1",
                     "pool",
                     "fc"};
  capture.depth = 0;
  const auto model = eqnn::probe::model_of(module, "resnet", capture);
  const eqnn::Group g = eqnn::Group::d4();
  const auto transforms = eqnn::probe::group_transforms(g);
  const torch::Tensor x = torch::rand({n, 1, 28, 28});
  const torch::Tensor x_cl = x.as_strided(x.sizes(), {28 * 28, 1, 28, 1});
  eqnn_bench::paired(
      state, [&] { benchmark::DoNotOptimize(eqnn::probe::run_probe(model, x, transforms)); },
      [&] {
        c10::InferenceMode inference;
        for (int i = 0; i < g.order() + 1; ++i)
          benchmark::DoNotOptimize(module.forward({x_cl}));
      });
  state.SetLabel("ResNet (TorchScript), 14 submodules, D4 (8 elements)");
}

/// What the fast paths buy: run_probe against itself with the fused metric pass off (variant 0:
/// every target g.f(x) and centroid materialised) and against the plain-ATen reference backend
/// (variant 1: no fusion, no chunking, float64 ATen). ratio < 1: the fast path is ahead.
void BM_ProbeFastPaths(benchmark::State& state) {
  eqnn::ModelSpec spec;
  spec.arch = state.range(0) == 0 ? "gcnn" : "cnn";
  spec.group = "d4";
  torch::manual_seed(0);
  auto net = eqnn::build_model(spec);
  net->eval();
  const auto model = eqnn::probe::model_of(net, spec.describe());
  const auto transforms = eqnn::probe::group_transforms(eqnn::Group::d4());
  const torch::Tensor x = torch::rand({64, 1, 28, 28});
  eqnn::probe::ProbeOptions unfused;
  unfused.fused = false;
  const bool reference = state.range(1) == 1;
  eqnn_bench::paired(
      state, [&] { benchmark::DoNotOptimize(eqnn::probe::run_probe(model, x, transforms)); },
      [&] {
        benchmark::DoNotOptimize(reference ? eqnn::probe::run_probe_reference(model, x, transforms)
                                           : eqnn::probe::run_probe(model, x, transforms, unfused));
      });
  state.SetLabel(spec.describe() + (reference ? ", vs the reference backend" : ", vs unfused"));
}

/// The fused stage sums (equivariance and invariance of one stage, all D4 copies, plane action)
/// against one ATen read of the same tensor (its squared norm): ratio ~1 means the pass runs at
/// the speed of a single read. Args: channels, size; 34 samples x 9 copies, channels_last.
void BM_StageSums(benchmark::State& state) {
  const int64_t channels = state.range(0), size = state.range(1), n = 34;
  const eqnn::Group g = eqnn::Group::d4();
  std::vector<eqnn::probe::ExactAction> actions(g.order() + 1);
  for (int64_t k = 0; k < g.order(); ++k)
    actions[k + 1] = {g, k, eqnn::FieldKind::Trivial};
  actions[0] = {g, 0, eqnn::FieldKind::Trivial};
  const torch::Tensor y = torch::rand({(g.order() + 1) * n, channels, size, size})
                              .contiguous(at::MemoryFormat::ChannelsLast);
  eqnn_bench::paired(
      state,
      [&] {
        benchmark::DoNotOptimize(eqnn::probe::stage_sums(y, g.order() + 1, 1, actions, true, true));
      },
      [&] { benchmark::DoNotOptimize(y.norm()); });
  state.SetLabel(std::to_string(y.numel() * 4 >> 20) + " MB, vs one read (ATen norm)");
}

}  // namespace

BENCHMARK(BM_ProbeFastPaths)
    ->ArgNames({"model", "baseline"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

BENCHMARK(BM_ProbeCostTorchScript)
    ->ArgNames({"samples"})
    ->Arg(64)
    ->Arg(256)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);

void BM_LieDerivativeCost(benchmark::State& state) {
  eqnn::ModelSpec spec;
  spec.arch = state.range(0) == 0 ? "gcnn" : "cnn";
  spec.group = "d4";
  const int64_t n = state.range(1);
  torch::manual_seed(0);
  auto net = eqnn::build_model(spec);
  net->eval();
  const auto model = eqnn::probe::model_of(net, spec.describe());
  const torch::Tensor x = torch::rand({n, 1, 28, 28});
  eqnn::probe::LieDerivativeOptions options;
  options.generators = {eqnn::probe::Generator::Rotation};
  options.batch_size = n;
  eqnn_bench::paired(
      state, [&] { benchmark::DoNotOptimize(eqnn::probe::lie_derivatives(model, x, options)); },
      [&] {
        c10::InferenceMode inference;
        for (int i = 0; i < 3; ++i)
          benchmark::DoNotOptimize(net->forward(x));
      });
  state.SetLabel(spec.describe() + ", rotation");
}

BENCHMARK(BM_LieDerivativeCost)
    ->ArgNames({"model", "samples"})
    ->Args({0, 64})
    ->Args({1, 64})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);

BENCHMARK(BM_ProbeCost)
    ->ArgNames({"model", "samples", "width", "output_only"})
    ->Args({0, 64, 0, 0})
    ->Args({1, 64, 0, 0})
    ->Args({0, 256, 0, 0})
    ->Args({1, 256, 0, 0})
    ->Args({0, 64, 16, 0})
    ->Args({1, 64, 128, 0})
    ->Args({1, 64, 0, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);

BENCHMARK(BM_StageSums)
    ->ArgNames({"channels", "size"})
    ->Args({16, 28})
    ->Args({32, 14})
    ->Args({64, 7})
    ->Args({64, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);
