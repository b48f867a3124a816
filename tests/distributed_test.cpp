// Work across processes on 127.0.0.1 (here: ranks as threads of one process, each with its own
// c10d process group over a TCPStore): the collectives, a rendezvous that never completes and a
// rank that leaves end in errors within the timeout, and a sharded probe equals the single
// process's report.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <future>
#include <thread>

#include "eqnn/distributed/communicator.h"
#include "eqnn/distributed/gradient_all_reduce.h"
#include "eqnn/distributed/sync_batch_norm.h"
#include "eqnn/probe/sharded.h"
#include "eqnn/train.h"
#include "multi_process.h"
#include "support.h"

using eqnn::distributed::Communicator;
using eqnn::distributed::CommunicatorOptions;

namespace {

const auto free_port = &eqnn::distributed::free_loopback_port;

CommunicatorOptions options_for(int64_t world, int64_t rank, int port, int64_t timeout_ms) {
  return CommunicatorOptions()
      .world_size(world)
      .rank(rank)
      .rendezvous("tcp://127.0.0.1:" + std::to_string(port))
      .timeout_ms(timeout_ms);
}

/// Runs body(rank, communicator) on `world` threads, one rank each; returns their results.
template <typename T>
std::vector<T> on_ranks(int64_t world, const std::function<T(Communicator&)>& body,
                        int64_t timeout_ms = 30000) {
  const int port = free_port();
  std::vector<std::future<T>> futures;
  for (int64_t r = 0; r < world; ++r)
    futures.push_back(std::async(std::launch::async, [=] {
      Communicator communicator(options_for(world, r, port, timeout_ms));
      return body(communicator);
    }));
  std::vector<T> results;
  for (auto& f : futures)
    results.push_back(f.get());
  return results;
}

/// The same with the communicator shared (what TrainOptions holds).
template <typename T>
std::vector<T> on_ranks_shared(int64_t world,
                               const std::function<T(std::shared_ptr<Communicator>)>& body) {
  const int port = free_port();
  std::vector<std::future<T>> futures;
  for (int64_t r = 0; r < world; ++r)
    futures.push_back(std::async(std::launch::async, [=] {
      return body(std::make_shared<Communicator>(options_for(world, r, port, 30000)));
    }));
  std::vector<T> results;
  for (auto& f : futures)
    results.push_back(f.get());
  return results;
}

/// The float64 example CNN, the same every call (seeded: call it on one thread at a time).
eqnn::probe::ProbedModel cnn64() {
  eqnn::ModelSpec spec;
  spec.arch = "cnn";
  spec.group = "d4";
  spec.input_size = 12;
  spec.width1 = 4;
  spec.width2 = 6;
  torch::manual_seed(11);
  auto net = eqnn::build_model(spec);
  net->to(torch::kDouble);
  net->eval();
  return eqnn::probe::model_of(net, "cnn");
}

void require_same_reports(const eqnn::probe::Report& sharded, const eqnn::probe::Report& single) {
  REQUIRE(sharded.rows.size() == single.rows.size());
  CHECK(sharded.samples == single.samples);
  CHECK(sharded.normalisation_samples == single.normalisation_samples);
  const auto close = [](double a, double b) {
    return (std::isnan(a) && std::isnan(b)) ||
           std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b));
  };
  for (size_t i = 0; i < single.rows.size(); ++i) {
    const auto &a = sharded.rows[i], &b = single.rows[i];
    INFO(b.stage << " " << b.metric << " " << b.deviation);
    CHECK(a.metric == b.metric);
    CHECK(close(a.value, b.value));
    CHECK(close(a.normalised, b.normalised));
    CHECK(close(a.scale, b.scale));
    CHECK(close(a.ci_low, b.ci_low));
    CHECK(close(a.ci_high, b.ci_high));
    CHECK(close(a.standard_error, b.standard_error));
    REQUIRE(a.per_sample.size() == b.per_sample.size());
    for (size_t k = 0; k < a.per_sample.size(); ++k)
      CHECK(close(a.per_sample[k], b.per_sample[k]));
    REQUIRE(a.per_element.size() == b.per_element.size());
    for (size_t k = 0; k < a.per_element.size(); ++k)
      CHECK(close(a.per_element[k], b.per_element[k]));
  }
}

}  // namespace

TEST_CASE("Distributed: shards, collectives, timeouts and errors", "[distributed]") {
  using eqnn::distributed::shard_range;
  // shards: contiguous, in order, covering, sizes within one
  for (const int64_t n : {0, 1, 7, 10, 64})
    for (const int64_t w : {1, 2, 3, 8}) {
      int64_t next = 0;
      for (int64_t r = 0; r < w; ++r) {
        const auto [b, e] = shard_range(n, w, r);
        CHECK(b == next);
        CHECK((e - b == n / w || e - b == n / w + 1));
        next = e;
      }
      CHECK(next == n);
    }
  CHECK_THROWS_WITH(shard_range(4, 2, 2), Catch::Contains("0 <= rank < world size"));

  // one process: every collective is the identity
  Communicator single;
  torch::Tensor t = torch::arange(4.0);
  single.all_reduce_sum(t);
  CHECK(torch::equal(t, torch::arange(4.0)));
  CHECK(single.all_gather(t).size() == 1);
  CHECK_THROWS_WITH(Communicator(CommunicatorOptions().world_size(2).rank(2)),
                    Catch::Contains("expected a rank in 0..1 for world size 2, got 2"));
  CHECK_THROWS_WITH(Communicator(CommunicatorOptions().world_size(2)),
                    Catch::Contains("needs a rendezvous"));
  CHECK_THROWS_WITH(
      Communicator(CommunicatorOptions().world_size(2).rendezvous("udp://127.0.0.1:1")),
      Catch::Contains("tcp://HOST:PORT or file:///PATH, got 'udp://127.0.0.1:1'"));
  CHECK_THROWS_WITH(
      Communicator(CommunicatorOptions().world_size(2).rendezvous("tcp://127.0.0.1:99999")),
      Catch::Contains("port in 1..65535"));

  EQNN_REQUIRE_MULTI_PROCESS();
  // three ranks: sums, gathers, broadcasts
  const auto sums = on_ranks<std::vector<double>>(3, [](Communicator& c) {
    torch::Tensor x = torch::full({5}, static_cast<double>(c.rank() + 1), torch::kDouble);
    c.all_reduce_sum(x);
    torch::Tensor y = torch::full({2}, static_cast<double>(10 * c.rank()), torch::kDouble);
    const auto gathered = c.all_gather(y);
    torch::Tensor z = torch::full({3}, static_cast<double>(c.rank()), torch::kDouble);
    c.broadcast(z, 2);
    c.barrier();
    return std::vector<double>{x[0].item<double>(), x[4].item<double>(),
                               gathered[1][0].item<double>(), gathered[2][1].item<double>(),
                               z[0].item<double>()};
  });
  for (const auto& s : sums)
    CHECK(s == std::vector<double>{6, 6, 10, 20, 2});

  // a rendezvous that never completes: an error within the timeout, not a hang
  {
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(Communicator(options_for(2, 1, free_port(), 1500)),
                      Catch::Contains("rank 1 of 2 could not join the others at tcp://127.0.0.1:"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  }
  // a rank that leaves: the other's next collective fails with a message instead of waiting
  {
    const auto start = std::chrono::steady_clock::now();
    const auto outcome = on_ranks<std::string>(
        2,
        [](Communicator& c) -> std::string {
          torch::Tensor x = torch::ones({3});
          c.all_reduce_sum(x);
          if (c.rank() == 1) return "left";
          try {
            c.all_reduce_sum(x, "the second sum");
            return "no error";
          } catch (const c10::Error& e) {
            return e.what_without_backtrace();
          }
        },
        3000);
    CHECK(outcome[1] == "left");
    CHECK_THAT(outcome[0], Catch::Contains("rank 0 of 2: the second sum failed"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  }
}

TEST_CASE("Distributed: a sharded probe equals one process's report", "[distributed][probe]") {
  EQNN_REQUIRE_MULTI_PROCESS();
  using namespace eqnn::probe;
  const torch::Tensor x = eqnn_test::randn({21, 1, 12, 12}, torch::kDouble, 5);
  const auto transforms = group_transforms(eqnn::Group::d4());
  for (const int64_t normalisation : {int64_t{4}, int64_t{16}}) {
    // 16 > the 7 samples of rank 0's shard: rank 0 probes the first 16 once more for the scales
    INFO("normalisation samples " << normalisation);
    ProbeOptions options;
    options.normalisation_samples = normalisation;
    const Report single = run_probe(cnn64(), x, transforms, options);
    const std::vector<ProbedModel> models = {cnn64(), cnn64(), cnn64()};  // not built in threads
    const auto reports = on_ranks<Report>(3, [&](Communicator& c) {
      return run_probe_sharded(models[static_cast<size_t>(c.rank())], x, transforms, options, c);
    });
    for (const Report& r : reports)
      require_same_reports(r, single);
    CHECK(reports[0].provenance.begin()->second.at("shards") == "3");
  }
  LieDerivativeOptions lie;
  const Report single = lie_derivatives(cnn64(), x, lie);
  const std::vector<ProbedModel> models = {cnn64(), cnn64()};
  const auto reports = on_ranks<Report>(2, [&](Communicator& c) {
    return lie_derivatives_sharded(models[static_cast<size_t>(c.rank())], x, lie, c);
  });
  require_same_reports(reports[1], single);

  ProbeOptions all_pairs;
  all_pairs.normalisation_samples = 0;
  const auto refused = on_ranks<std::string>(2, [&](Communicator& c) -> std::string {
    try {
      run_probe_sharded(models[static_cast<size_t>(c.rank())], x, transforms, all_pairs, c);
    } catch (const c10::Error& e) {
      return e.what_without_backtrace();
    }
    return "";
  });
  CHECK_THAT(refused[0], Catch::Contains("crosses shards"));
}

TEST_CASE("Distributed: data-parallel training equals one process's, step for step",
          "[distributed][train]") {
  EQNN_REQUIRE_MULTI_PROCESS();
  // a model without batch norm, in float64 (the sums over ranks then differ from one process's
  // only in the order of float64 additions), with augmentation and a last batch of 3 images that
  // leaves one of 4 ranks without any
  torch::manual_seed(3);
  torch::nn::Sequential prototype(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)),
                                  torch::nn::ReLU(), torch::nn::MaxPool2d(2), torch::nn::Flatten(),
                                  torch::nn::Linear(4 * 4 * 4, 3));
  prototype->to(torch::kDouble);
  const torch::Tensor images = eqnn_test::randn({43, 1, 8, 8}, torch::kDouble, 8);
  const torch::Tensor labels = torch::arange(43, torch::kLong) % 3;
  eqnn::TrainOptions options;
  options.epochs = 2;
  options.batch_size = 10;
  options.learning_rate = 0.01;
  options.augment = eqnn::Group::d4();
  options.seed = 4;
  options.bucket_bytes = 256;  // several buckets
  const auto train = [&](torch::nn::Sequential model, std::shared_ptr<Communicator> communicator) {
    torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(0.01));
    eqnn::TrainOptions o = options;
    o.communicator = std::move(communicator);
    std::vector<double> result = eqnn::train_classifier(model, optimizer, images, labels, o);
    for (const torch::Tensor& p : model->parameters()) {
      const torch::Tensor flat = p.detach().flatten();
      result.insert(result.end(), flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
    }
    return result;
  };
  const auto copy = [&] {
    return std::dynamic_pointer_cast<torch::nn::SequentialImpl>(prototype->clone());
  };
  const std::vector<double> single = train(torch::nn::Sequential(copy()), nullptr);
  for (const int64_t world : {int64_t{2}, int64_t{4}}) {
    INFO("world size " << world);
    std::vector<torch::nn::Sequential> models;
    for (int64_t r = 0; r < world; ++r)
      models.emplace_back(copy());
    if (world == 2) {  // rank 1 starts from other weights: rank 0's are broadcast
      torch::NoGradGuard no_grad;
      for (torch::Tensor& p : models[1]->parameters())
        p.add_(1.0);
    }
    const auto results =
        on_ranks_shared<std::vector<double>>(world, [&](std::shared_ptr<Communicator> c) {
          return train(models[static_cast<size_t>(c->rank())], c);
        });
    for (const auto& r : results) {
      REQUIRE(r.size() == single.size());
      double worst = 0;
      for (size_t k = 0; k < r.size(); ++k)
        worst = std::max(worst, std::abs(r[k] - single[k]) / std::max(1.0, std::abs(single[k])));
      CHECK(worst < 1e-12);
    }
  }

  // with batch norm: local statistics in the step, running statistics averaged after each epoch,
  // so every rank ends with the same model
  torch::manual_seed(5);
  torch::nn::Sequential with_bn(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)),
                                torch::nn::BatchNorm2d(4), torch::nn::ReLU(), torch::nn::Flatten(),
                                torch::nn::Linear(4 * 8 * 8, 3));
  const torch::Tensor images32 = images.to(torch::kFloat);
  const auto buffers = on_ranks_shared<std::vector<float>>(2, [&](std::shared_ptr<Communicator> c) {
    auto model = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(with_bn->clone());
    torch::nn::Sequential net(model);
    torch::optim::SGD optimizer(net->parameters(), torch::optim::SGDOptions(0.1));
    eqnn::TrainOptions o;
    o.epochs = 1;
    o.batch_size = 10;
    o.communicator = c;
    eqnn::train_classifier(net, optimizer, images32, labels, o);
    std::vector<float> out;
    for (const torch::Tensor& b : net->buffers())
      if (b.is_floating_point())
        out.insert(out.end(), b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
    for (const torch::Tensor& p : net->parameters())
      out.insert(out.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    return out;
  });
  CHECK(buffers[0] == buffers[1]);

  // the gradient sum on its own: weights 1 and 2 give g0 + 2 g1, with nothing for rank 1's
  // second parameter (an unused parameter counts as 0)
  const auto sums = on_ranks_shared<std::vector<double>>(2, [](std::shared_ptr<Communicator> c) {
    torch::Tensor a = torch::ones({3}, torch::kDouble).requires_grad_();
    torch::Tensor b = torch::ones({2}, torch::kDouble).requires_grad_();
    eqnn::distributed::GradientAllReduce reduce({a, b}, c, 8);
    CHECK(reduce.bucket_count() == 2);
    reduce.prepare(c->rank() == 0 ? 1.0 : 2.0);
    const double r = static_cast<double>(c->rank() + 1);
    ((c->rank() == 0 ? a.sum() + b.sum() : a.sum()) * r).backward();
    reduce.finish();
    return std::vector<double>{a.grad()[0].item<double>(), b.grad()[1].item<double>()};
  });
  for (const auto& s : sums)
    CHECK(s == std::vector<double>{1 + 2 * 2, 1});
}

namespace {
/// A user's module with a torch batch norm inside (which sync_batch_norm cannot reach).
struct NormedImpl : torch::nn::Cloneable<NormedImpl> {
  NormedImpl() { reset(); }
  void reset() override { bn = register_module("bn", torch::nn::BatchNorm2d(4)); }
  torch::Tensor forward(const torch::Tensor& x) { return bn->forward(x); }
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(Normed);
}  // namespace

TEST_CASE("Distributed: synchronised batch norm is the whole batch's", "[distributed][train]") {
  EQNN_REQUIRE_MULTI_PROCESS();
  // the function: 3 ranks holding 4, 0 and 3 samples normalise, back-propagate and update the
  // running statistics as one batch norm over the 7 samples does
  const torch::Tensor x = eqnn_test::randn({7, 3, 4, 5}, torch::kDouble, 21);
  const torch::Tensor r = eqnn_test::randn({7, 3, 4, 5}, torch::kDouble, 22);
  const torch::Tensor w0 = eqnn_test::randn({3}, torch::kDouble, 23) + 1;
  const torch::Tensor b0 = eqnn_test::randn({3}, torch::kDouble, 24);
  const torch::Tensor xr = x.clone().requires_grad_(), wr = w0.clone().requires_grad_(),
                      br = b0.clone().requires_grad_();
  torch::Tensor mean_ref = torch::zeros({3}, torch::kDouble),
                var_ref = torch::ones({3}, torch::kDouble);
  const torch::Tensor y_ref =
      torch::batch_norm(xr, wr, br, mean_ref, var_ref, true, 0.1, 1e-5, false);
  (y_ref * r).sum().backward();
  const std::vector<int64_t> counts{4, 0, 3}, offsets{0, 4, 4};
  using Parts = std::vector<torch::Tensor>;
  const auto parts = on_ranks_shared<Parts>(3, [&](std::shared_ptr<Communicator> c) {
    const auto k = static_cast<size_t>(c->rank());
    const torch::Tensor xk = x.narrow(0, offsets[k], counts[k]).clone().requires_grad_();
    const torch::Tensor wk = w0.clone().requires_grad_(), bk = b0.clone().requires_grad_();
    torch::Tensor mean = torch::zeros({3}, torch::kDouble), var = torch::ones({3}, torch::kDouble);
    const torch::Tensor y = eqnn::distributed::sync_batch_norm(xk, wk, bk, mean, var, 0.1, 1e-5, c);
    (y * r.narrow(0, offsets[k], counts[k])).sum().backward();
    return Parts{y.detach(), xk.grad(), wk.grad(), bk.grad(), mean, var};
  });
  const auto close = [](const torch::Tensor& a, const torch::Tensor& b) {
    return torch::allclose(a, b, 1e-12, 1e-12);
  };
  CHECK(close(torch::cat({parts[0][0], parts[1][0], parts[2][0]}), y_ref.detach()));
  CHECK(close(torch::cat({parts[0][1], parts[1][1], parts[2][1]}), xr.grad()));
  CHECK(close(parts[0][2] + parts[1][2] + parts[2][2], wr.grad()));
  CHECK(close(parts[0][3] + parts[1][3] + parts[2][3], br.grad()));
  for (const Parts& p : parts) {
    CHECK(close(p[4], mean_ref));
    CHECK(close(p[5], var_ref));
  }
  CHECK_THROWS_WITH(eqnn::distributed::sync_batch_norm(x.to(torch::kFloat), w0, b0, {}, {}, 0.1,
                                                       1e-5, std::make_shared<Communicator>()),
                    Catch::Contains("expected the parameters and statistics in the input's dtype"));

  // training: with eqnn::GroupBatchNorm2d (a C4 G-CNN) and with torch::nn::BatchNorm2d, 2 ranks
  // with sync_batch_norm train as one process does with the whole batch (float64)
  const torch::Tensor images = eqnn_test::randn({43, 1, 12, 12}, torch::kDouble, 9);
  const torch::Tensor labels = torch::arange(43, torch::kLong) % 3;
  eqnn::ModelSpec spec;
  spec.arch = "gcnn";
  spec.group = "C4";
  spec.input_size = 12;
  spec.width1 = spec.width2 = spec.width3 = 2;
  spec.classes = 3;
  torch::manual_seed(6);
  torch::nn::Sequential gcnn = eqnn::build_model(spec);
  torch::nn::Sequential plain(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)),
                              torch::nn::BatchNorm2d(4), torch::nn::ReLU(), torch::nn::Flatten(),
                              torch::nn::Linear(4 * 12 * 12, 3));
  for (torch::nn::Sequential* prototype : {&gcnn, &plain}) {
    (*prototype)->to(torch::kDouble);
    const auto copy = [&] {
      return torch::nn::Sequential(
          std::dynamic_pointer_cast<torch::nn::SequentialImpl>((*prototype)->clone()));
    };
    const auto train = [&](torch::nn::Sequential model, std::shared_ptr<Communicator> c) {
      // SGD: Adam would turn the rounding noise in the gradient of a bias before a batch norm
      // (exactly 0 in exact arithmetic) into steps of lr * noise / eps
      torch::optim::SGD optimizer(model->parameters(),
                                  torch::optim::SGDOptions(0.05).momentum(0.9));
      eqnn::TrainOptions o;
      o.epochs = 2;
      o.batch_size = 10;  // the last batch of 3 gives both ranks an image
      o.augment = eqnn::Group::d4();
      o.seed = 8;
      o.communicator = std::move(c);
      o.sync_batch_norm = true;
      std::vector<double> result = eqnn::train_classifier(model, optimizer, images, labels, o);
      for (const torch::Tensor& t : model->parameters())
        for (const double v :
             std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel()))
          result.push_back(v);
      for (const torch::Tensor& t : model->buffers())
        if (t.is_floating_point())
          for (int64_t k = 0; k < t.numel(); ++k)
            result.push_back(t.flatten()[k].item<double>());
      return result;
    };
    const std::vector<double> single = train(copy(), nullptr);
    std::vector<torch::nn::Sequential> models{copy(), copy()};
    const auto results =
        on_ranks_shared<std::vector<double>>(2, [&](std::shared_ptr<Communicator> c) {
          return train(models[static_cast<size_t>(c->rank())], c);
        });
    for (const auto& result : results) {
      REQUIRE(result.size() == single.size());
      double worst = 0;
      size_t at = 0;
      for (size_t k = 0; k < result.size(); ++k) {
        const double e = std::abs(result[k] - single[k]) / std::max(1.0, std::abs(single[k]));
        if (e > worst) {
          worst = e;
          at = k;
        }
      }
      INFO((prototype == &gcnn ? "gcnn" : "plain")
           << " worst " << worst << " at " << at << " of " << result.size() << ": " << result[at]
           << " vs " << single[at]);
      CHECK(worst < 1e-12);
    }
  }

  // under bfloat16 autocast (float32 parameters): both ranks end with the same finite model
  {
    torch::nn::Sequential plain32(
        std::dynamic_pointer_cast<torch::nn::SequentialImpl>(plain->clone()));
    plain32->to(torch::kFloat);
    const torch::Tensor images32 = images.to(torch::kFloat);
    const auto weights =
        on_ranks_shared<std::vector<float>>(2, [&](std::shared_ptr<Communicator> c) {
          torch::nn::Sequential net(
              std::dynamic_pointer_cast<torch::nn::SequentialImpl>(plain32->clone()));
          torch::optim::SGD optimizer(net->parameters(), torch::optim::SGDOptions(0.05));
          eqnn::TrainOptions o;
          o.batch_size = 10;
          o.communicator = c;
          o.sync_batch_norm = true;
          o.precision = eqnn::Precision::BFloat16;
          eqnn::train_classifier(net, optimizer, images32, labels, o);
          std::vector<float> out;
          for (const torch::Tensor& t : net->parameters())
            out.insert(out.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
          return out;
        });
    CHECK(weights[0] == weights[1]);
    CHECK(std::all_of(weights[0].begin(), weights[0].end(),
                      [](float v) { return std::isfinite(v); }));
  }

  // refused before any collective: a batch that leaves a rank without images, and a torch batch
  // norm the synchronised forward cannot reach
  const auto refusal = [&](torch::nn::Sequential model, int64_t world) {
    const auto messages = on_ranks_shared<std::string>(world, [&](std::shared_ptr<Communicator> c) {
      auto net = torch::nn::Sequential(
          std::dynamic_pointer_cast<torch::nn::SequentialImpl>(model->clone()));
      torch::optim::SGD optimizer(net->parameters(), torch::optim::SGDOptions(0.1));
      eqnn::TrainOptions o;
      o.batch_size = 10;
      o.communicator = c;
      o.sync_batch_norm = true;
      try {
        eqnn::train_classifier(net, optimizer, images, labels, o);
      } catch (const c10::Error& e) {
        return std::string(e.what_without_backtrace());
      }
      return std::string("no error");
    });
    return messages.front();
  };
  CHECK_THAT(refusal(plain, 4),
             Catch::Contains("needs at least one image per rank in every batch") &&
                 Catch::Contains("a batch holds 3"));
  torch::nn::Sequential nested(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)),
                               Normed(), torch::nn::Flatten(), torch::nn::Linear(4 * 12 * 12, 3));
  nested->to(torch::kDouble);
  CHECK_THAT(refusal(nested, 2), Catch::Contains("'1.bn' (torch::nn::BatchNorm2d") &&
                                     Catch::Contains("is nested inside"));
}

#ifdef EQNN_CLI_PATH
namespace {
/// stdout of a shell command line; its exit status in `status`.
std::string shell_output(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    out.append(buffer, n);
  status = ::pclose(pipe);
  return out;
}
}  // namespace

TEST_CASE("eqnn launch: two processes probe like one", "[distributed][cli]") {
  EQNN_REQUIRE_MULTI_PROCESS();
  const std::string probe = " probe --builtin cnn --samples 20 --size 12 --format json";
  int one_status = -1, two_status = -1;
  const std::string one =
      shell_output(std::string(EQNN_CLI_PATH) + " -j 1" + probe + " 2>/dev/null", one_status);
  const std::string two = shell_output(
      std::string(EQNN_CLI_PATH) + " launch -n 2 --timeout 60 --" + probe + " 2>/dev/null",
      two_status);
  REQUIRE(one_status == 0);
  REQUIRE(two_status == 0);
  const eqnn::probe::Report a = eqnn::probe::Report::from_json(one);
  const eqnn::probe::Report b = eqnn::probe::Report::from_json(two);
  REQUIRE(a.rows.size() == b.rows.size());
  REQUIRE(a.samples == 20);
  REQUIRE(b.samples == 20);
  for (size_t i = 0; i < a.rows.size(); ++i) {
    INFO(a.rows[i].stage << " " << a.rows[i].metric << " " << a.rows[i].deviation);
    // float32 features: the shards' smaller batches may round convolutions otherwise
    for (const auto& [x, y] : {std::make_pair(a.rows[i].value, b.rows[i].value),
                               std::make_pair(a.rows[i].ci_high, b.rows[i].ci_high)}) {
      if (std::isnan(x))
        CHECK(std::isnan(y));
      else
        CHECK(y == Approx(x).epsilon(1e-6));
    }
  }
}
#endif
