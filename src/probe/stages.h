// The stages of a probed model's forward and the transformed batches that run through it
// (internal to the probes: run_probe, run_probe_reference, the fitted latent actions and the Lie
// derivatives share them, so every measure labels and orders stages the same way).
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "eqnn/probe/latent_action.h"
#include "eqnn/probe/probed_model.h"
#include "eqnn/probe/transforms.h"

namespace eqnn {
namespace probe {
namespace detail {

/// The transforms, identity first (added, and then left out of the averages, if missing).
struct TransformSet {
  std::vector<Transform> all;
  int64_t first = 0;  // index of the first transform that counts
  int64_t count() const { return static_cast<int64_t>(all.size()); }
  int64_t used() const { return count() - first; }
};

/// `given` with an identity "e (reference)" put first where it does not start with one. Throws
/// for no transforms, naming `who`.
TransformSet transform_set(const std::vector<Transform>& given,
                           const char* who = "eqnn::probe::run_probe");

/// A captured output: which point, which of its calls in one forward, how it is measured.
struct StageInfo {
  int64_t point = -1;  // index in ProbedModel::points; -1 for the model output
  int64_t call = 0;    // 0-based call of the point within one forward
  std::string label;
  LatentAction action = LatentAction::plane();
  bool is_output = false;
};

/// One captured output of a forward.
struct Event {
  int64_t point;
  torch::Tensor output;
};

/// Runs the model once, keeping every captured output.
std::vector<Event> capture_all(const ProbedModel& model, const torch::Tensor& x,
                               torch::Tensor* output);

/// The stages of one forward's events: every event in order (a point called more than once per
/// forward gives "name#1", "name#2", ...), then the model output unless it is the last event.
std::vector<StageInfo> stages_of_events(const ProbedModel& model, const std::vector<Event>& events,
                                        const torch::Tensor& output);

/// Why latent equivariance is not applicable on a stage whose outputs look like `sample` (one
/// sample per transform, transform-major), or "" where it is.
std::string not_applicable(const StageInfo& stage, const torch::Tensor& sample,
                           const TransformSet& set);

/// All transformed copies of x, transform-major: (K * n, C, H, W).
torch::Tensor transformed_batch(const torch::Tensor& x, const std::vector<Transform>& transforms);

}  // namespace detail
}  // namespace probe
}  // namespace eqnn
