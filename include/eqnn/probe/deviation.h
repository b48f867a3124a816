/// \file
/// Deviation functions of the G-EED metrics (docs/metrics.md, section 2), each on whole flattened
/// per-sample vectors. Sums are float64 totals of partial sums over at most 256 entries in the
/// input's precision (SIMD-friendly; ~1e-6 relative for float32 inputs).
#pragma once

#include <torch/types.h>

#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace eqnn {
namespace probe {

/// How far apart two per-sample feature vectors a and b are.
enum class Deviation {
  Cosine,     ///< 1 - <a,b> / (|a| |b|), with |a| |b| guarded by 1e-8 (default for latents)
  Euclidean,  ///< |a - b|_2 (not squared)
  KL,         ///< sum_k a_k (log a_k - log b_k), b clamped to >= 1e-12; a, b probabilities
};

/// "cosine", "euclidean" or "kl".
const char* to_string(Deviation deviation);
/// "cosine", "euclidean", "kl" (case-insensitive); throws otherwise.
Deviation deviation_from_name(const std::string& name);

/// Row-wise deviation of a and b (both (N, ...), flattened per sample) -> (N) float64. Cosine and
/// euclidean come from per-sample sums in one pass (fused on CPU).
torch::Tensor deviation(const torch::Tensor& a, const torch::Tensor& b, Deviation kind);
/// Several deviations of the same pair, sharing that pass.
std::vector<torch::Tensor> deviations(const torch::Tensor& a, const torch::Tensor& b,
                                      const std::vector<Deviation>& kinds);

/// deviations(ys[k], centroid) for every k, where centroid = mean_k ys[k]: one fused
/// pass on CPU (no materialised centroid) for cosine and euclidean.
std::vector<std::vector<torch::Tensor>> centroid_deviations(const std::vector<torch::Tensor>& ys,
                                                            const std::vector<Deviation>& kinds);

/// The mean of deviation(f[i], f[j]) over all ordered pairs i != j of the rows of f (for the
/// normalised G-EED, metrics.md section 3), the number of pairs and the mean's standard error
/// (first-order U-statistic approximation: 2 sd(r_i) / sqrt(n), r_i = mean over j of the pairs
/// of row i; NaN for fewer than 3 rows).
struct PairwiseMean {
  double mean = 0;    ///< the mean deviation over the pairs
  int64_t pairs = 0;  ///< the number of ordered pairs, n (n - 1)
  /// The mean's standard error; NaN for fewer than 3 rows.
  double standard_error = std::numeric_limits<double>::quiet_NaN();
};
/// The PairwiseMean of deviation `kind` over the rows of f (N, ...).
PairwiseMean mean_pairwise_deviation(const torch::Tensor& f, Deviation kind);
/// The same for several deviations, sharing one pass over the pairs for cosine and euclidean.
std::vector<PairwiseMean> mean_pairwise_deviations(const torch::Tensor& f,
                                                   const std::vector<Deviation>& kinds);

}  // namespace probe
}  // namespace eqnn
