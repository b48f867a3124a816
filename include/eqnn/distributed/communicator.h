/// \file
/// Processes that work together: a thin handle on LibTorch's c10d (ProcessGroupGloo, over a
/// TCPStore or FileStore rendezvous) with the few collectives eqnn needs, every one bounded by a
/// timeout, so that a rank that dies or never arrives ends the others with an error rather than a
/// hang. With world size 1 no c10d is involved and every collective is the identity.
#pragma once

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace eqnn {
/// Data-parallel work across processes (docs/ARCHITECTURE.md, "Scaling out").
namespace distributed {

/// Who this process is among how many, and where they meet.
struct CommunicatorOptions {
  /// The number of processes (ranks).
  TORCH_ARG(int64_t, world_size) = 1;
  /// This process's rank, 0 .. world_size - 1.
  TORCH_ARG(int64_t, rank) = 0;
  /// "tcp://HOST:PORT" (rank 0 listens there, the others connect) or "file:///PATH" (a file
  /// every rank can reach, not left from an earlier run); empty only for world size 1.
  TORCH_ARG(std::string, rendezvous) = "";
  /// Bound, in milliseconds, on the rendezvous and on every collective: a rank that has not
  /// arrived by then makes the others throw.
  TORCH_ARG(int64_t, timeout_ms) = 120000;
};

/// A TCP port on 127.0.0.1 that is free at the time of asking (for a rendezvous on this machine:
/// bind 127.0.0.1:0 and read the port back). Throws when no socket can be had.
int free_loopback_port();

/// [begin, end) of `rank`'s share of `n` items: contiguous, in rank order, sizes differing by at
/// most one (the first n % world ranks get one more).
std::pair<int64_t, int64_t> shard_range(int64_t n, int64_t world_size, int64_t rank);

/// A connected group of processes. Collectives must be called by every rank in the same order;
/// tensors are CPU (Gloo) and of the same sizes on every rank.
class Communicator {
 public:
  /// Connects (world size > 1) or makes the single-process communicator. Throws with the
  /// rendezvous and timeout named when the other ranks do not arrive in time.
  explicit Communicator(const CommunicatorOptions& options = {});
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  /// This process's rank.
  int64_t rank() const { return options_.rank(); }
  /// The number of ranks.
  int64_t world_size() const { return options_.world_size(); }
  /// The options it was made with.
  const CommunicatorOptions& options() const { return options_; }

  /// An all-reduce in flight (all_reduce_sum_async); wait() blocks until it is done or throws.
  class Pending {
   public:
    /// Nothing in flight (wait() returns at once).
    Pending();
    /// Does not wait: call wait() first.
    ~Pending();
    /// Takes over the all-reduce in flight.
    Pending(Pending&&) noexcept;
    /// Takes over the all-reduce in flight (the one held before must have been waited for).
    Pending& operator=(Pending&&) noexcept;
    /// Blocks until the sum is in the tensor; throws (naming `what`) on failure or timeout.
    void wait();

   private:
    friend class Communicator;
    struct State;
    std::unique_ptr<State> state_;
  };

  /// In place: every rank's tensor becomes the sum over ranks.
  void all_reduce_sum(torch::Tensor& tensor, const std::string& what = "all-reduce");
  /// The same, started now and finished by Pending::wait (the tensor must stay alive until then).
  Pending all_reduce_sum_async(torch::Tensor tensor, const std::string& what = "all-reduce");
  /// Every rank's `tensor` (same sizes on every rank), in rank order.
  std::vector<torch::Tensor> all_gather(const torch::Tensor& tensor,
                                        const std::string& what = "all-gather");
  /// In place: every rank's tensor becomes root's.
  void broadcast(torch::Tensor& tensor, int64_t root, const std::string& what = "broadcast");
  /// Returns once every rank has called it.
  void barrier(const std::string& what = "barrier");

 private:
  struct Impl;
  template <typename Launch>
  Pending start(const std::string& what, Launch&& launch);
  CommunicatorOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace distributed
}  // namespace eqnn
