// The price of TrainOptions::deterministic: an epoch of the example models on one intra-op thread
// (what deterministic does on the CPU), against the same epoch with every thread, in the same run.
// Each switch of the thread count clears LibTorch's oneDNN cache, so both variants rebuild their
// convolution primitives in their first step; 16 steps per epoch amortise that.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "bench_util.h"
#include "eqnn/checkpoint.h"
#include "eqnn/train.h"

namespace {

void BM_DeterministicTraining(benchmark::State& state) {
  eqnn::ModelSpec spec;
  spec.arch = state.range(0) == 0 ? "gcnn" : "cnn";
  spec.group = "d4";
  const int64_t batch = 32, steps = 16;
  torch::manual_seed(0);
  const torch::Tensor images = torch::rand({batch * steps, 1, 28, 28});
  const torch::Tensor labels = torch::randint(10, {batch * steps}, torch::kLong);
  torch::manual_seed(1);
  torch::nn::Sequential model = eqnn::build_model(spec);
  const auto epoch = [&](bool deterministic) {
    torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01));
    eqnn::TrainOptions options;
    options.batch_size = batch;
    options.deterministic = deterministic;
    eqnn::train_classifier(model, optimizer, images, labels, options);
  };
  eqnn_bench::paired(
      state, [&] { epoch(true); }, [&] { epoch(false); });
  state.SetLabel(spec.describe() + ", " + std::to_string(at::get_num_threads()) +
                 " threads: deterministic vs default, " + std::to_string(steps) + " steps of " +
                 std::to_string(batch));
}

}  // namespace

BENCHMARK(BM_DeterministicTraining)
    ->ArgNames({"model"})
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(4.0);
