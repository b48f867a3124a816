/// \file
/// Checkpoints of the example architectures: the architecture (a small JSON spec) and the weights
/// in one torch::serialize archive, written atomically; loading rebuilds the model from the spec.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/optimizer.h>

#include <array>
#include <string>
#include <utility>

namespace eqnn {

/// The architecture of an example model (models::small_gcnn or models::plain_cnn), as stored in a
/// checkpoint.
struct ModelSpec {
  std::string arch = "gcnn";  ///< "gcnn" (models::small_gcnn) or "cnn" (models::plain_cnn)
  /// For gcnn: any name Group::from_name accepts; written (to_json, describe) in the canonical
  /// spelling Group::name() gives ("D4", "C4", ...), which `eqnn train` writes too.
  std::string group = "D4";
  int64_t input_size = 28;  ///< height = width of the input images
  int64_t in_channels = 1;  ///< channels of the input images
  int64_t width1 = 0;       ///< fields (gcnn) or channels (cnn) of the first layer; 0: the default
  int64_t width2 = 0;       ///< the same for the second block
  int64_t width3 = 0;       ///< the same for the third block
  int64_t classes = 10;     ///< outputs of the final Linear layer
  /// Kernel size of the second and third convolutions (odd); 0: the architecture's default (3).
  int64_t kernel_size = 0;
  /// Kernel size of the first convolution (a G-CNN's lifting layer; odd); 0: the default (5).
  int64_t first_kernel_size = 0;
  /// The antialiasing blur of a G-CNN whose group leaves the pixel grid ("binomial" or "box";
  /// SmallGCNNOptions::blur; no other model uses it: blurs()). Such specs of format 3 and older
  /// load as "box", the blur they were trained with; load_weights ignores the field for the other
  /// models.
  std::string blur = "binomial";

  /// Bounds validate() enforces (a checkpoint is input: a corrupt one must not build a model of
  /// 10^12 parameters). This one bounds width1, width2 and width3.
  static constexpr int64_t kMaxWidth = 4096;
  static constexpr int64_t kMaxInputSize = 4096;   ///< bound on input_size
  static constexpr int64_t kMaxInChannels = 1024;  ///< bound on in_channels
  static constexpr int64_t kMaxClasses = 100000;   ///< bound on classes
  static constexpr int64_t kMaxKernelSize = 31;    ///< bound on both kernel sizes
  /// Weights one layer may hold (for a G-CNN: its expanded filter), 2^26 (256 MiB in float32).
  static constexpr int64_t kMaxLayerWeights = int64_t{1} << 26;

  /// The spec as a one-line JSON object (with a format tag; the group in canonical spelling).
  std::string to_json() const;
  /// Parses to_json's output. Throws with a clear message on malformed, unknown or out-of-range
  /// specs (validate()); the group comes back in its canonical spelling.
  static ModelSpec from_json(const std::string& json);
  /// Throws, naming the field, what was expected and what it holds, unless arch is gcnn or cnn,
  /// the group is known, widths are in [0, kMaxWidth] (0: the default), input_size in
  /// [1, kMaxInputSize], in_channels in [1, kMaxInChannels], classes in [1, kMaxClasses],
  /// kernel_size and first_kernel_size are 0 or odd in [1, kMaxKernelSize], blur is binomial or box
  /// and no layer holds more than kMaxLayerWeights weights.
  void validate() const;
  /// The group in its canonical spelling (throws for an unknown group).
  std::string canonical_group() const;
  /// e.g. "gcnn-D4 (6, 12, 24 fields)", "gcnn-C8 (4, 8, 16 fields, 5x5)", "gcnn-C8 (4, 8, 16
  /// fields, 5x5, first 7x7)" (kernel sizes only when set; ", box blur" for a G-CNN off the grid
  /// with the box blur)
  std::string describe() const;
  /// Whether the model has the antialiasing blur: a G-CNN whose group leaves the pixel grid (the
  /// group must be known).
  bool blurs() const;
  /// The widths of the three blocks, defaults filled in.
  std::array<int64_t, 3> resolved_widths() const;
};

/// Builds the architecture a spec names, freshly initialised.
torch::nn::Sequential build_model(const ModelSpec& spec);

/// Writes spec + weights (+ an optional opaque JSON string of extra state, e.g. the epoch, and the
/// optimizer's state for resuming). Guarantees: the archive is serialised in memory, written with
/// checked I/O to a temporary of its own next to `path` (`path.tmp.<pid>.<n>`: concurrent writers
/// never share one), fsynced, renamed over `path`, and the directory fsynced; `path` holds the old
/// checkpoint or the whole new one, never a part. Any failure (a full disk included) is an
/// exception naming the file, and the temporary is removed. A temporary left by a kill is never
/// read (loading reads `path` only). Weights or buffers that are NaN or infinite are refused.
void save_checkpoint(const std::string& path, const ModelSpec& spec,
                     const torch::nn::Sequential& model, const std::string& extra_json = "{}",
                     const torch::optim::Optimizer* optimizer = nullptr);

/// Restores the optimizer state saved with a checkpoint; false if it has none.
bool load_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer);

/// What load_checkpoint returns.
struct Checkpoint {
  ModelSpec spec;               ///< the architecture, validated
  torch::nn::Sequential model;  ///< the model the spec builds, with the saved weights
  std::string extra_json;       ///< the extra state given to save_checkpoint
};

/// Rebuilds the model from the spec and loads the weights. Throws, naming the file, when it is not
/// an eqnn checkpoint, its spec is invalid (ModelSpec::validate) or any tensor is missing or has a
/// shape or dtype other than the model the spec builds.
Checkpoint load_checkpoint(const std::string& path);

/// Loads weights from `path` into `model`, checking that the checkpoint's spec equals `expected`
/// (a clear error for a checkpoint of another architecture). Returns the checkpoint's extra JSON.
std::string load_weights(const std::string& path, const ModelSpec& expected,
                         torch::nn::Sequential& model);

}  // namespace eqnn
