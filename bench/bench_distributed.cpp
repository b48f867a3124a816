// Data-parallel work on this machine (README, "Scaling out"): W ranks, here threads of this
// process each with its own c10d process group over loopback TCP and one intra-op thread, against
// one process with 2 intra-op threads in the same iteration (bench_util.h's paired timing).
//   BM_DataParallelTraining: one epoch of 4 steps of 32 images, the whole batch split among the
//     ranks (ratio < 1: the ranks are faster than 2 threads on one batch).
//   BM_GradientAllReduce: the gradient all-reduce of one step (every bucket, no overlap with a
//     backward pass) against one training step of a rank's share on one thread: the share of a
//     step that communication would take if nothing overlapped.
//   BM_ShardedProbe: run_probe_sharded of 64 samples against run_probe on 2 threads.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <future>
#include <memory>
#include <thread>

#include "bench_util.h"
#include "eqnn/eqnn.h"

namespace {

using eqnn::distributed::Communicator;

/// W communicators on 127.0.0.1, connected once per benchmark.
std::vector<std::shared_ptr<Communicator>> connect_ranks(int64_t world) {
  const int port = eqnn::distributed::free_loopback_port();
  std::vector<std::future<std::shared_ptr<Communicator>>> pending;
  for (int64_t r = 0; r < world; ++r)
    pending.push_back(std::async(std::launch::async, [=] {
      return std::make_shared<Communicator>(
          eqnn::distributed::CommunicatorOptions()
              .world_size(world)
              .rank(r)
              .rendezvous("tcp://127.0.0.1:" + std::to_string(port))
              .timeout_ms(120000));
    }));
  std::vector<std::shared_ptr<Communicator>> ranks;
  for (auto& p : pending)
    ranks.push_back(p.get());
  return ranks;
}

/// body(rank) on one thread per rank, each with one intra-op thread; returns when all are done.
void on_ranks(int64_t world, const std::function<void(int64_t)>& body) {
  std::vector<std::thread> threads;
  for (int64_t r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      at::set_num_threads(1);
      body(r);
    });
  for (auto& t : threads)
    t.join();
}

eqnn::ModelSpec spec_of(int64_t model) {
  eqnn::ModelSpec spec;
  spec.arch = model == 0 ? "gcnn" : "cnn";
  spec.group = "d4";
  return spec;
}

/// An epoch of `steps` batches of `batch` random 28x28 images with 10 classes.
struct Epoch {
  torch::Tensor images, labels;
  Epoch(int64_t batch, int64_t steps) {
    torch::manual_seed(0);
    images = torch::rand({batch * steps, 1, 28, 28});
    labels = torch::randint(10, {batch * steps}, torch::kLong);
  }
};

/// `count` copies of the model of `spec`, all from the same seed.
std::vector<torch::nn::Sequential> same_models(const eqnn::ModelSpec& spec, int64_t count) {
  std::vector<torch::nn::Sequential> models;
  for (int64_t r = 0; r < count; ++r) {
    torch::manual_seed(1);
    models.push_back(eqnn::build_model(spec));
  }
  return models;
}

void BM_DataParallelTraining(benchmark::State& state) {
  const int64_t world = state.range(0);
  const eqnn::ModelSpec spec = spec_of(state.range(1));
  const int64_t batch = 32, steps = 4;
  const Epoch data(batch, steps);
  const torch::Tensor &images = data.images, &labels = data.labels;
  const auto ranks = connect_ranks(world);
  std::vector<torch::nn::Sequential> models = same_models(spec, world + 1);  // + the baseline's
  const auto train = [&](torch::nn::Sequential& model, std::shared_ptr<Communicator> c) {
    torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01));
    eqnn::TrainOptions options;
    options.batch_size = batch;
    options.communicator = std::move(c);
    eqnn::train_classifier(model, optimizer, images, labels, options);
  };
  eqnn_bench::paired(
      state,
      [&] {
        on_ranks(world, [&](int64_t r) {
          train(models[static_cast<size_t>(r)], ranks[static_cast<size_t>(r)]);
        });
      },
      [&] {
        at::set_num_threads(2);
        train(models.back(), nullptr);
      });
  state.counters["images_per_s"] =
      static_cast<double>(batch * steps) / (state.counters["ours_ms"] / 1e3);
  state.SetLabel(spec.describe() + ", " + std::to_string(world) + " rank(s) x 1 thread vs 1 x 2");
}

void BM_SyncBatchNormTraining(benchmark::State& state) {
  const int64_t world = 2;
  const eqnn::ModelSpec spec = spec_of(state.range(0));
  const int64_t batch = 32, steps = 4;
  const Epoch data(batch, steps);
  const auto ranks = connect_ranks(world);
  std::vector<torch::nn::Sequential> models = same_models(spec, world);
  const auto epoch = [&](bool sync) {
    on_ranks(world, [&](int64_t r) {
      torch::optim::SGD optimizer(models[static_cast<size_t>(r)]->parameters(),
                                  torch::optim::SGDOptions(0.01));
      eqnn::TrainOptions options;
      options.batch_size = batch;
      options.communicator = ranks[static_cast<size_t>(r)];
      options.sync_batch_norm = sync;
      eqnn::train_classifier(models[static_cast<size_t>(r)], optimizer, data.images, data.labels,
                             options);
    });
  };
  eqnn_bench::paired(
      state, [&] { epoch(true); }, [&] { epoch(false); });
  state.SetLabel(spec.describe() + ", 2 ranks x 1 thread, synchronised vs local batch norm");
}

void BM_GradientAllReduce(benchmark::State& state) {
  const int64_t world = 2;
  const eqnn::ModelSpec spec = spec_of(state.range(0));
  const auto ranks = connect_ranks(world);
  std::vector<torch::nn::Sequential> models;
  std::vector<std::unique_ptr<eqnn::distributed::GradientAllReduce>> reducers;
  for (int64_t r = 0; r < world; ++r) {
    torch::manual_seed(1);
    models.push_back(eqnn::build_model(spec));
    reducers.push_back(std::make_unique<eqnn::distributed::GradientAllReduce>(
        models.back()->parameters(), ranks[static_cast<size_t>(r)]));
  }
  torch::manual_seed(1);
  auto local = eqnn::build_model(spec);
  const torch::Tensor x = torch::rand({16, 1, 28, 28});
  const torch::Tensor y = torch::randint(10, {16}, torch::kLong);
  int64_t bytes = 0;
  for (const auto& p : models.front()->parameters())
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
  eqnn_bench::paired(
      state,
      [&] {
        on_ranks(world, [&](int64_t r) {
          reducers[static_cast<size_t>(r)]->prepare(0.5);
          reducers[static_cast<size_t>(r)]->finish();
        });
      },
      [&] {
        at::set_num_threads(1);
        local->zero_grad();
        torch::nn::functional::cross_entropy(local->forward(x), y).backward();
      });
  state.counters["gradient_MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["buckets"] = static_cast<double>(reducers.front()->bucket_count());
  state.SetLabel(spec.describe() + ", 2 ranks; baseline: a step of 16 images on 1 thread");
}

void BM_ShardedProbe(benchmark::State& state) {
  const int64_t world = state.range(0);
  const eqnn::ModelSpec spec = spec_of(state.range(1));
  const auto ranks = connect_ranks(world);
  const torch::Tensor x = torch::rand({64, 1, 28, 28});
  const auto transforms = eqnn::probe::group_transforms(eqnn::Group::d4());
  std::vector<eqnn::probe::ProbedModel> models;
  for (int64_t r = 0; r <= world; ++r) {
    torch::manual_seed(1);
    auto m = eqnn::build_model(spec);
    m->eval();
    models.push_back(eqnn::probe::model_of(m, spec.describe()));
  }
  eqnn_bench::paired(
      state,
      [&] {
        on_ranks(world, [&](int64_t r) {
          benchmark::DoNotOptimize(eqnn::probe::run_probe_sharded(
              models[static_cast<size_t>(r)], x, transforms, {}, *ranks[static_cast<size_t>(r)]));
        });
      },
      [&] {
        at::set_num_threads(2);
        benchmark::DoNotOptimize(eqnn::probe::run_probe(models.back(), x, transforms));
      });
  state.SetLabel(spec.describe() + ", " + std::to_string(world) + " rank(s) x 1 thread vs 1 x 2");
}

BENCHMARK(BM_DataParallelTraining)
    ->ArgNames({"ranks", "model"})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({1, 0})
    ->Args({2, 0})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK(BM_SyncBatchNormTraining)
    ->ArgNames({"model"})
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK(BM_GradientAllReduce)
    ->ArgNames({"model"})
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);
BENCHMARK(BM_ShardedProbe)
    ->ArgNames({"ranks", "model"})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({2, 0})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace
