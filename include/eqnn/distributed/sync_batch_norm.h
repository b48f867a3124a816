/// \file
/// Synchronised batch normalisation: in data-parallel training, batch statistics taken over every
/// rank's share of the batch, so that each step is the single process's step with the whole
/// batch (docs/ARCHITECTURE.md, "Scaling out"). The forward pass gathers each rank's count, mean
/// and variance per channel and combines them exactly (float64); the backward pass all-reduces
/// the two per-channel sums the input gradient needs. Both are collectives: every rank must run
/// the same normalisations in the same order.
#pragma once

#include <torch/types.h>

#include <memory>

#include "eqnn/distributed/communicator.h"

namespace eqnn {
namespace distributed {

/// Batch normalisation (training mode) of `input` (N, C, *) per channel of dim 1 with the mean and
/// (biased) variance over the other dims and over every rank's input:
///   y = (x - mean) / sqrt(var + eps) * weight + bias,
/// where, with n_r, m_r, v_r the count, mean and variance on rank r and n = sum_r n_r,
///   mean = sum_r n_r m_r / n,   var = sum_r n_r (v_r + (m_r - mean)^2) / n.
/// Differentiable: the input's gradient is that of the loss summed over ranks (so each rank
/// back-propagates its own share of the loss, e.g. its mean loss times n_r / n), and weight and
/// bias get this rank's part of their gradients (to be summed over ranks with weight 1).
/// weight and bias may be undefined (no affine); running_mean and running_var, when defined, are
/// updated in place with momentum: (1 - momentum) running + momentum batch (the variance
/// unbiased, n / (n - 1)), identically on every rank. A rank may hold no samples (N = 0); the
/// total count per channel must exceed 1. Throws, naming the communicator's exchange, when
/// another rank fails or times out.
torch::Tensor sync_batch_norm(const torch::Tensor& input, const torch::Tensor& weight,
                              const torch::Tensor& bias, const torch::Tensor& running_mean,
                              const torch::Tensor& running_var, double momentum, double eps,
                              const std::shared_ptr<Communicator>& communicator);

/// While alive, eqnn::GroupBatchNorm2d layers in training mode on this thread normalise with
/// statistics over all ranks of `communicator` (sync_batch_norm); nests, restoring the previous
/// state. A null communicator or one of world size 1 turns synchronisation off.
class SyncBatchNormGuard {
 public:
  /// Synchronises over `communicator` on this thread.
  explicit SyncBatchNormGuard(std::shared_ptr<Communicator> communicator);
  /// Restores the communicator found by the constructor.
  ~SyncBatchNormGuard();
  SyncBatchNormGuard(const SyncBatchNormGuard&) = delete;
  SyncBatchNormGuard& operator=(const SyncBatchNormGuard&) = delete;

 private:
  std::shared_ptr<Communicator> previous_;
};

namespace detail {
/// The communicator of the innermost SyncBatchNormGuard on this thread (null: none, or world
/// size 1).
const std::shared_ptr<Communicator>& batch_norm_communicator();
}  // namespace detail

}  // namespace distributed
}  // namespace eqnn
