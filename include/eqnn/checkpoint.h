// Checkpoints of the example architectures: the architecture (a small JSON spec) and the weights in
// one torch::serialize archive, written atomically; loading rebuilds the model from the spec.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/optimizer.h>

#include <array>
#include <string>
#include <utility>

namespace eqnn {

struct ModelSpec {
  std::string arch = "gcnn";  ///< "gcnn" (models::small_gcnn) or "cnn" (models::plain_cnn)
  std::string group = "d4";   ///< for gcnn
  int64_t input_size = 28;
  int64_t in_channels = 1;
  int64_t width1 = 0;  ///< fields (gcnn) or channels (cnn) of the first layer; 0: the default
  int64_t width2 = 0;
  int64_t width3 = 0;
  int64_t classes = 10;

  std::string to_json() const;
  /// Throws with a clear message on malformed or unknown specs.
  static ModelSpec from_json(const std::string& json);
  /// e.g. "gcnn-d4 (6, 12, 24 fields)"
  std::string describe() const;
  /// The widths of the three blocks, defaults filled in.
  std::array<int64_t, 3> resolved_widths() const;
};

/// Builds the architecture a spec names, freshly initialised.
torch::nn::Sequential build_model(const ModelSpec& spec);

/// Writes spec + weights (+ an optional opaque JSON string of extra state, e.g. the epoch, and the
/// optimizer's state for resuming) to path.tmp and renames it over path.
void save_checkpoint(const std::string& path, const ModelSpec& spec,
                     const torch::nn::Sequential& model, const std::string& extra_json = "{}",
                     const torch::optim::Optimizer* optimizer = nullptr);

/// Restores the optimizer state saved with a checkpoint; false if it has none.
bool load_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer);

struct Checkpoint {
  ModelSpec spec;
  torch::nn::Sequential model;
  std::string extra_json;
};

/// Rebuilds the model from the spec and loads the weights. Throws, naming the file, when it is not
/// an eqnn checkpoint or the weights do not fit the architecture.
Checkpoint load_checkpoint(const std::string& path);

/// Loads weights from `path` into `model`, checking that the checkpoint's spec equals `expected`
/// (a clear error for a checkpoint of another architecture).
std::string load_weights(const std::string& path, const ModelSpec& expected,
                         torch::nn::Sequential& model);

}  // namespace eqnn
