// A model seen as a sequence of named stages, each with the action of the transforms on its output.
// Probes measure every stage; the builders derive stages from a torch::nn::Sequential (eqnn layers
// give exact actions from their field types), from a TorchScript module whose top level is a
// sequence of submodules, or from stages the user marks.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/script.h>
#include <torch/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "eqnn/field.h"
#include "eqnn/probe/transforms.h"

namespace eqnn {
namespace probe {

/// How a transform acts on a stage's output; std::nullopt when it has no defined action there
/// (e.g. a 45-degree rotation on regular p4 fields): latent equivariance is then skipped.
using LatentAction =
    std::function<std::optional<torch::Tensor>(const torch::Tensor& latent, const Transform&)>;

/// The action on features of a field type: the exact action for group elements (and rotations by
/// multiples of 90 degrees) the type's group contains; for trivial fields also any plane transform.
LatentAction field_type_action(const FieldType& type);
/// Plain CNN feature maps: the plane moves, channels stay (the transform's apply_to_plane).
LatentAction plane_action();
/// Invariant features: g acts as the identity.
LatentAction invariant_action();

/// A latent action that is the exact action of a group element on feature maps (the map of
/// eqnn::ops::group_action: the plane moves, regular fields also permute their group axis).
struct ExactAction {
  Group group;
  int64_t element = 0;
  FieldKind kind = FieldKind::Trivial;
};
/// A stage's action on a transform as an ExactAction, where it is one (std::nullopt otherwise).
/// With it run_probe fuses the action into its metric pass instead of materialising g.f(x).
using ExactLatentAction = std::function<std::optional<ExactAction>(const Transform&)>;

/// The exact form of field_type_action, plane_action and invariant_action (4-D feature maps).
ExactLatentAction field_type_exact_action(const FieldType& type);
ExactLatentAction plane_exact_action();
ExactLatentAction invariant_exact_action();

struct Stage {
  std::string name;
  std::function<torch::Tensor(const torch::Tensor&)> forward;
  LatentAction action;
  std::string action_name;  ///< "regular D4 fields", "plane", "invariant", "custom"
  /// Optional: `action` as an exact group action, where it is one. Must agree with `action` (the
  /// builders below set both); leave it empty for custom actions.
  ExactLatentAction exact_action;
};

struct StagedModel {
  std::string name;
  std::vector<Stage> stages;

  /// Runs every stage in order and returns every stage's output.
  std::vector<torch::Tensor> forward_all(const torch::Tensor& x) const;
};

/// One stage per child. eqnn layers fix the field type (and so the action) of their outputs;
/// pointwise torch modules keep it; other children (plain convolutions...) get the plane action,
/// or the invariant action for outputs without a plane after invariant features.
StagedModel stages_of(const torch::nn::Sequential& sequential, const std::string& name);

/// One stage per top-level submodule, in registration order (e.g. an nn.Sequential saved from
/// Python), each with the plane action. Throws, naming the module, if it has no submodules or
/// running them in order does not reproduce the module's forward on `example`.
StagedModel stages_of(const torch::jit::Module& module, const std::string& name,
                      const torch::Tensor& example);

}  // namespace probe
}  // namespace eqnn
