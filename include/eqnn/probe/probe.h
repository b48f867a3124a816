/// \file
/// The G-EED probes of Kvinge et al. (NeurIPS 2022), docs/metrics.md section 2, layer by layer:
///
///     latent equivariance  m(f_i(g.x), g.f_i(x))
///     latent invariance    m(f_i(g.x), c_i(x)),  c_i(x) = mean over the transforms of f_i(h.x)
///     output invariance    KL(softmax f(g.x) || mean_g softmax f(g.x))   (last stage)
///
/// averaged over samples and transforms in float64, plus the normalised variant (section 3).
#pragma once

#include <functional>
#include <vector>

#include "eqnn/probe/deviation.h"
#include "eqnn/probe/probed_model.h"
#include "eqnn/probe/report.h"
#include "eqnn/probe/transforms.h"
#include "eqnn/probe/uncertainty.h"

namespace eqnn {
/// The G-EED probes (docs/metrics.md): models as the probe sees them, transforms, latent actions,
/// deviations, metrics and reports.
namespace probe {

/// The G-EED metrics of this file's description: Equivariance (latent equivariance, where the
/// stage's action is defined), Invariance (latent invariance) and OutputKL (output invariance).
enum class Metric { Equivariance, Invariance, OutputKL };
/// "equivariance", "invariance" or "output_kl".
const char* to_string(Metric metric);
/// "equivariance", "invariance", "output" / "output_kl" / "kl" (case-insensitive); throws
/// otherwise.
Metric metric_from_name(const std::string& name);

/// What run_probe measures and how.
struct ProbeOptions {
  /// The metrics to compute (all three by default).
  std::vector<Metric> metrics = {Metric::Equivariance, Metric::Invariance, Metric::OutputKL};
  /// Deviations for the latent metrics (the output metric always uses KL).
  std::vector<Deviation> deviations = {Deviation::Cosine, Deviation::Euclidean};
  /// Also compute the normalised G-EED (our extension, docs/metrics.md section 3).
  bool normalised = true;
  /// The normalisation scale d_i is the mean deviation over the ordered pairs of the first this
  /// many probed samples (0: all of them), reported with its standard error (metrics.md, 3).
  int64_t normalisation_samples = 32;
  /// Upper bound on the memory of one chunk's live outputs (estimated from the first chunk as the
  /// largest pair of consecutive captured outputs, all transformed copies). Chunks small enough
  /// for the caches are also faster (bench/RESULTS.md).
  int64_t memory_budget_bytes = int64_t{16} << 20;
  /// Use the fused metric pass where the actions are exact (false: materialise every target g.f(x)
  /// and centroid, as for custom actions; for benchmarks and tests of the fused pass).
  bool fused = true;
  /// Inputs in channels_last (eqnn layers and most convolutions then keep it).
  bool channels_last = true;
  /// The standard errors and confidence intervals of every value (docs/metrics.md, section 5).
  UncertaintyOptions uncertainty;
  /// Stage indices to report (empty: all).
  std::vector<int64_t> stages;
  /// Called after each chunk with (samples done, total samples).
  std::function<void(int64_t, int64_t)> progress;
};

/// Probes `model` on the samples in `inputs` (B, C, H, W) under `transforms` (an identity is added
/// first if missing, and then left out of the averages). The stages are the model's captured
/// outputs in the order of its forward (a point captured twice per forward gives "name#1",
/// "name#2"), then the model output unless it is the last of them. Runs in inference mode, all
/// transformed copies of a chunk in one batch, each stage measured as its output is produced.
/// The model's train/eval mode is the caller's: put it in eval mode first (in train mode batch
/// norm normalises with each chunk's own statistics). Throws, naming the stage, for features
/// that are not finite.
Report run_probe(const ProbedModel& model, const torch::Tensor& inputs,
                 const std::vector<Transform>& transforms, const ProbeOptions& options = {});

/// The reference backend: the same report from plain ATen in float64 straight from the formulas
/// of docs/metrics.md (one forward of every copy, no chunking, no fusion, no SIMD; the actions
/// from rot90/flip/index_select), on any device. For tests of the fast paths; memory grows with
/// inputs x transforms.
Report run_probe_reference(const ProbedModel& model, const torch::Tensor& inputs,
                           const std::vector<Transform>& transforms,
                           const ProbeOptions& options = {});

}  // namespace probe
}  // namespace eqnn
