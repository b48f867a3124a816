// Work across processes on 127.0.0.1 (here: ranks as threads of one process, each with its own
// c10d process group over a TCPStore): the collectives, a rendezvous that never completes and a
// rank that leaves end in errors within the timeout, and a sharded probe equals the single
// process's report.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <thread>

#include "eqnn/distributed/communicator.h"
#include "eqnn/probe/sharded.h"
#include "support.h"

using eqnn::distributed::Communicator;
using eqnn::distributed::CommunicatorOptions;

namespace {

/// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  socklen_t length = sizeof(address);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

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

/// The float64 example CNN, built the same way on every rank.
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
    return (std::isnan(a) && std::isnan(b)) || std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b));
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
  using namespace eqnn::probe;
  const torch::Tensor x = eqnn_test::randn({21, 1, 12, 12}, torch::kDouble, 5);
  const auto transforms = group_transforms(eqnn::Group::d4());
  for (const int64_t normalisation : {int64_t{4}, int64_t{16}}) {
    // 16 > the 7 samples of rank 0's shard: rank 0 probes the first 16 once more for the scales
    INFO("normalisation samples " << normalisation);
    ProbeOptions options;
    options.normalisation_samples = normalisation;
    const Report single = run_probe(cnn64(), x, transforms, options);
    const auto reports = on_ranks<Report>(3, [&](Communicator& c) {
      return run_probe_sharded(cnn64(), x, transforms, options, c);
    });
    for (const Report& r : reports)
      require_same_reports(r, single);
    CHECK(reports[0].provenance.begin()->second.at("shards") == "3");
  }
  LieDerivativeOptions lie;
  const Report single = lie_derivatives(cnn64(), x, lie);
  const auto reports = on_ranks<Report>(2, [&](Communicator& c) {
    return lie_derivatives_sharded(cnn64(), x, lie, c);
  });
  require_same_reports(reports[1], single);

  ProbeOptions all_pairs;
  all_pairs.normalisation_samples = 0;
  const auto refused = on_ranks<std::string>(2, [&](Communicator& c) -> std::string {
    try {
      run_probe_sharded(cnn64(), x, transforms, all_pairs, c);
    } catch (const c10::Error& e) {
      return e.what_without_backtrace();
    }
    return "";
  });
  CHECK_THAT(refused[0], Catch::Contains("crosses shards"));
}
