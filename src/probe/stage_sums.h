// The sums behind one stage's latent equivariance and invariance (internal; docs/metrics.md,
// section 2), from all transformed copies of a chunk in one fused pass: the equivariance target
// g.f(x) is never materialised (each row of it is built in a cache-resident buffer from the
// stage's exact action and compared at once), and the invariance centroid is formed block by block.
#pragma once

#include <torch/types.h>

#include <vector>

#include "eqnn/probe/latent_action.h"

namespace eqnn {
namespace probe {

/// Per (copy k, sample i) sums, float64, stored at [k * samples + i].
struct StageSums {
  int64_t copies = 0, samples = 0;
  std::vector<double> norm2;          ///< |y_k|^2, every copy
  std::vector<double> equivariance2;  ///< |y_k - g_k.y_0|^2 for k >= first (if asked)
  std::vector<double> invariance2;    ///< |y_k - c|^2, c = mean over k >= first of y_k (if asked)
  std::vector<double> centroid2;      ///< |c|^2, [i] (if asked)
};

/// Whether stage_sums takes y (K * n, C, H, W) with these actions: CPU, float or double, dense
/// (NCHW or channels_last), square planes for quarter turns, whole regular fields.
bool stage_sums_supported(const torch::Tensor& y, const std::vector<ExactAction>& actions);

/// y holds copy k of sample i at y[k * n + i] (transform-major, copy 0 the identity); actions[k]
/// is the stage's action of transform k (entries before `first` are not used).
StageSums stage_sums(const torch::Tensor& y, int64_t copies, int64_t first,
                     const std::vector<ExactAction>& actions, bool equivariance, bool invariance);

}  // namespace probe
}  // namespace eqnn
