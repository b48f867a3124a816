/// \file
/// Learned latent actions, after Lenc and Vedaldi ("Understanding image representations by
/// measuring their equivariance and equivalence", CVPR 2015); docs/metrics.md, section 7. A network
/// can be equivariant in coordinates of its own: f_i(g.x) = M_g L_g f_i(x) for some map M_g on the
/// channels (L_g: the plane action), which the fixed-action G-EED cannot see. For every stage and
/// transform g this fits M_g on one split of the samples, as
///   (a) a channel permutation: the assignment that maximises the summed correlation between the
///       channels of f_i(g.x) and those of L_g f_i(x) (the Hungarian method), and
///   (b) a general linear map on channels: ridge-regularised least squares in float64,
/// and reports on the held-out split the G-EED under the fitted action next to the G-EED under the
/// stage's fixed action, plus how group-like the fitted maps are (M_g M_h against M_gh).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "eqnn/probe/deviation.h"
#include "eqnn/probe/probed_model.h"
#include "eqnn/probe/report.h"
#include "eqnn/probe/transforms.h"
#include "eqnn/probe/uncertainty.h"

namespace eqnn {
namespace probe {

/// The kinds of map fitted on a stage's channels.
enum class FittedMap {
  Permutation,  ///< (M y)_c = y_{perm[c]}
  Linear,       ///< (M y)_c = sum_d W[c][d] y_d
};
/// "permutation" or "linear".
const char* to_string(FittedMap map);

/// What fit_latent_actions fits and how.
struct FittedActionOptions {
  std::vector<FittedMap> maps = {FittedMap::Permutation, FittedMap::Linear};  ///< maps to fit
  /// Deviations of the held-out G-EED.
  std::vector<Deviation> deviations = {Deviation::Cosine, Deviation::Euclidean};
  /// The first round(fit_fraction * N) samples fit the maps, the others measure them (at least
  /// one of each).
  double fit_fraction = 0.5;
  /// Ridge of the linear fit relative to the mean eigenvalue of the inputs' Gram matrix:
  /// lambda = ridge * trace(A^T A) / C.
  double ridge = 1e-3;
  /// Samples per forward (each with all its transformed copies).
  int64_t batch_size = 16;
  /// Stage indices to fit (empty: every stage with features (N, C, H, W) or (N, C)).
  std::vector<int64_t> stages;
  UncertaintyOptions uncertainty;  ///< the held-out values' intervals
  /// Called after each batch with (samples done, samples in all): the fitting samples first, then
  /// the held-out ones.
  std::function<void(int64_t, int64_t)> progress;
};

/// The maps fitted at one stage.
struct FittedStage {
  int64_t stage_index = 0;  ///< position in the forward, as in run_probe's reports
  std::string stage;        ///< the stage's label
  int64_t channels = 0;     ///< C
  /// Per fitted transform (FittedActions::transforms): perm[c] = the channel of L_g f(x) that
  /// channel c of f(g.x) is matched with; empty when not fitted.
  std::vector<std::vector<int64_t>> permutations;
  /// Per fitted transform: W (C, C) float64; empty when not fitted.
  std::vector<torch::Tensor> linear;
  /// Pairs (g, h) of fitted transforms whose product gh is also fitted (group elements of one
  /// group, or rotations whose angles add up to one in the set).
  int64_t composition_pairs = 0;
  /// Of those pairs, the fraction where the permutations do not compose (M_g M_h != M_gh; the
  /// pair (e, e) fails exactly when M_e is not the identity). NaN without pairs.
  double permutation_failures = std::numeric_limits<double>::quiet_NaN();
  /// Mean and largest |W_g W_h - W_gh|_F / |W_gh|_F over the pairs; NaN without pairs.
  double linear_composition_error = std::numeric_limits<double>::quiet_NaN();
  double linear_composition_error_max =
      std::numeric_limits<double>::quiet_NaN();  ///< see linear_composition_error
};

/// The result of fit_latent_actions.
struct FittedActions {
  /// Rows per stage on the held-out samples, each kind of action as a model of its own so that
  /// charts draw them side by side: "NAME [fixed action, held out]", "NAME [fitted permutation]"
  /// and "NAME [fitted linear]" with metric "equivariance" per deviation (NaN where the stage has
  /// no fixed action), and for the fitted ones metric "composition": the fraction of pairs that
  /// fail (deviation "pairs") or the mean relative error (deviation "relative_frobenius").
  Report report;
  std::vector<std::string> transforms;  ///< the fitted transforms, in the maps' order
  std::vector<FittedStage> stages;      ///< the fitted maps per stage
  int64_t fit_samples = 0;              ///< samples that fitted the maps
};

/// Fits the latent actions of `model` under `transforms` on the first samples of `inputs`
/// (B, C, H, W) and measures them on the rest (docs/metrics.md, section 7). Runs in inference mode;
/// put the model in eval mode first. Memory: two C x C float64 matrices per stage and transform.
/// Throws for fewer than 2 samples, options out of range, or features that are not finite.
FittedActions fit_latent_actions(const ProbedModel& model, const torch::Tensor& inputs,
                                 const std::vector<Transform>& transforms,
                                 const FittedActionOptions& options = {});

/// The assignment of rows to columns of the square matrix `cost` (n, n) with the smallest total
/// cost: column[r] for every row r (the Hungarian method with potentials, O(n^3)).
std::vector<int64_t> min_cost_assignment(const torch::Tensor& cost);

}  // namespace probe
}  // namespace eqnn
