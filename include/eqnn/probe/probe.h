// The G-EED probes of Kvinge et al. (NeurIPS 2022), docs/metrics.md section 2, layer by layer:
//   latent equivariance  m(f_i(g.x), g.f_i(x))
//   latent invariance    m(f_i(g.x), c_i(x)),  c_i(x) = mean over the transforms of f_i(h.x)
//   output invariance    KL(softmax f(g.x) || mean_g softmax f(g.x))   (last stage)
// averaged over samples and transforms in float64, plus the normalised variant (section 3).
#pragma once

#include <functional>
#include <vector>

#include "eqnn/probe/deviation.h"
#include "eqnn/probe/report.h"
#include "eqnn/probe/staged_model.h"
#include "eqnn/probe/transforms.h"

namespace eqnn {
namespace probe {

enum class Metric { Equivariance, Invariance, OutputKL };
const char* to_string(Metric metric);
/// "equivariance", "invariance", "output" / "output_kl" / "kl".
Metric metric_from_name(const std::string& name);

struct ProbeOptions {
  std::vector<Metric> metrics = {Metric::Equivariance, Metric::Invariance, Metric::OutputKL};
  /// Deviations for the latent metrics (the output metric always uses KL).
  std::vector<Deviation> deviations = {Deviation::Cosine, Deviation::Euclidean};
  /// Also compute the normalised G-EED (our extension).
  bool normalised = true;
  /// Upper bound on the memory of one chunk's live stage outputs (two consecutive stages, all
  /// transformed copies). Moderate chunks are also faster: tensors under the allocator's mmap
  /// threshold (32 MiB with eqnn::tune_allocator) reuse memory instead of faulting in new pages,
  /// and chunks whose features stay in the caches are faster still (measured: 16 MiB beats 64).
  int64_t memory_budget_bytes = int64_t{16} << 20;
  /// Feature maps in channels_last (3-7x faster convolutions on the build machine's CPUs).
  bool channels_last = true;
  /// Stage indices to report (empty: all).
  std::vector<int64_t> stages;
  /// Called after each chunk with (samples done, total samples).
  std::function<void(int64_t, int64_t)> progress;
};

/// Probes `model` on the samples in `inputs` (B, C, H, W) under `transforms` (an identity is added
/// first if missing, and then left out of the averages). Runs in inference mode, all transformed
/// copies of a chunk in one batch. The model's train/eval mode is the caller's: put it in eval mode
/// first (in train mode batch norm normalises with each chunk's own statistics).
Report run_probe(const StagedModel& model, const torch::Tensor& inputs,
                 const std::vector<Transform>& transforms, const ProbeOptions& options = {});

}  // namespace probe
}  // namespace eqnn
