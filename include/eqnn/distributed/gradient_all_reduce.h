/// \file
/// Data-parallel gradients: after each rank's backward pass over its share of a batch, every
/// parameter's gradient becomes the weighted sum over ranks, sum_r w_r g_r (w_r = the rank's share
/// of the batch: the gradient of the whole batch's mean loss). Gradients are packed into buckets
/// in the reverse order of the parameters (the order the backward pass produces them), and a
/// bucket's all-reduce starts from a gradient hook as soon as it and every earlier bucket are
/// complete, so communication overlaps the rest of the backward pass; buckets start in the same
/// order on every rank.
#pragma once

#include <torch/types.h>

#include <memory>
#include <vector>

#include "eqnn/distributed/communicator.h"

namespace eqnn {
namespace distributed {

/// The weighted gradient sum of one data-parallel step (this file's description).
class GradientAllReduce {
 public:
  /// Hooks every parameter that requires a gradient; buckets of about `bucket_bytes` each
  /// (parameters of one dtype per bucket).
  GradientAllReduce(const std::vector<torch::Tensor>& parameters,
                    std::shared_ptr<Communicator> communicator, int64_t bucket_bytes = 1 << 20);
  /// Removes the hooks.
  ~GradientAllReduce();
  GradientAllReduce(const GradientAllReduce&) = delete;
  GradientAllReduce& operator=(const GradientAllReduce&) = delete;

  /// Before the backward pass of a step: this rank's weight w_r in the sum.
  void prepare(double weight);
  /// After it (also on a rank with nothing to back-propagate): starts the buckets not started
  /// yet (gradients that never came count as 0), waits for all of them and writes the sums into
  /// the parameters' gradients. Throws when another rank has failed or timed out.
  void finish();

  /// The number of buckets.
  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
  /// Seconds finish() has spent waiting for all-reduces, summed over steps.
  double seconds_waiting() const { return seconds_waiting_; }

 private:
  struct Bucket {
    torch::Tensor buffer;            // the flattened gradients, weighted
    std::vector<size_t> parameters;  // indices into parameters_
    std::vector<int64_t> offsets;    // of each parameter in buffer
    size_t ready = 0;                // gradients copied in this step
    Communicator::Pending pending;
  };
  void on_gradient(size_t parameter, const torch::Tensor& gradient);
  void start_ready_buckets();

  std::vector<torch::Tensor> parameters_;
  std::shared_ptr<Communicator> communicator_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;  // parameter -> bucket
  std::vector<size_t> slot_of_;    // parameter -> position within its bucket
  std::vector<bool> arrived_;      // parameter's gradient copied this step
  std::vector<unsigned> hooks_;
  size_t next_bucket_ = 0;  // the next bucket to start (every one before it has started)
  double weight_ = 1;
  bool active_ = false;
  double seconds_waiting_ = 0;
};

}  // namespace distributed
}  // namespace eqnn
