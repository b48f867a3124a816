#include "eqnn/probe/staged_model.h"

#include <cmath>

#include "../module_names.h"
#include "eqnn/nn/equivariant_module.h"

namespace eqnn {
namespace probe {
namespace {

/// The element of `group` that `tr` is, if any: a group element with the same D4 index, or a
/// rotation by a multiple of 90 degrees.
std::optional<int64_t> element_in(const Group& group, const Transform& tr) {
  int d4 = -1;
  if (tr.kind == Transform::Kind::GroupElement) d4 = tr.group.d4_index(tr.element);
  if (tr.kind == Transform::Kind::Rotation) {
    const double quarter = tr.degrees / 90.0;
    if (std::abs(quarter - std::round(quarter)) > 1e-9) return std::nullopt;
    d4 = static_cast<int>(((static_cast<int64_t>(std::llround(quarter)) % 4) + 4) % 4);
  }
  for (int64_t t = 0; t < group.order(); ++t)
    if (group.d4_index(t) == d4) return t;
  return std::nullopt;
}

}  // namespace

LatentAction field_type_action(const FieldType& type) {
  return [type](const torch::Tensor& y, const Transform& tr) -> std::optional<torch::Tensor> {
    if (tr.is_identity()) return y;
    if (const auto element = element_in(type.group, tr)) return type.act(y, *element);
    // Translations commute with the group axis; trivial fields take any plane transform.
    if (tr.kind == Transform::Kind::Translation || type.kind == FieldKind::Trivial)
      return tr.apply_to_plane(y);
    return std::nullopt;
  };
}

LatentAction plane_action() {
  return [](const torch::Tensor& y, const Transform& tr) -> std::optional<torch::Tensor> {
    return tr.apply_to_plane(y);
  };
}

LatentAction invariant_action() {
  return [](const torch::Tensor& y, const Transform&) -> std::optional<torch::Tensor> { return y; };
}

ExactLatentAction field_type_exact_action(const FieldType& type) {
  return [type](const Transform& tr) -> std::optional<ExactAction> {
    if (tr.is_identity()) return ExactAction{};
    if (const auto element = element_in(type.group, tr))
      return ExactAction{type.group, *element, type.kind};
    if (type.kind == FieldKind::Trivial)
      if (const auto d4 = element_in(Group::d4(), tr))
        return ExactAction{Group::d4(), *d4, FieldKind::Trivial};
    return std::nullopt;
  };
}

ExactLatentAction plane_exact_action() {
  return [](const Transform& tr) -> std::optional<ExactAction> {
    if (tr.is_identity()) return ExactAction{};
    if (const auto d4 = element_in(Group::d4(), tr))
      return ExactAction{Group::d4(), *d4, FieldKind::Trivial};
    return std::nullopt;
  };
}

ExactLatentAction invariant_exact_action() {
  return [](const Transform&) -> std::optional<ExactAction> { return ExactAction{}; };
}

std::vector<torch::Tensor> StagedModel::forward_all(const torch::Tensor& x) const {
  std::vector<torch::Tensor> out;
  torch::Tensor h = x;
  for (const Stage& stage : stages) {
    h = stage.forward(h);
    out.push_back(h);
  }
  return out;
}

StagedModel stages_of(const torch::nn::Sequential& sequential, const std::string& name) {
  TORCH_CHECK(!sequential->is_empty(), "eqnn::probe::stages_of: the Sequential '", name,
              "' is empty");
  StagedModel model{name, {}};
  std::optional<FieldType> type;  // the field type of the current output, while known
  size_t index = 0;
  for (const auto& child : *sequential) {
    const std::shared_ptr<torch::nn::Module> module = child.ptr();
    const std::string child_name = std::to_string(index++) + ": " + detail::module_name(*module);
    if (const auto* eq = dynamic_cast<const EquivariantModule*>(module.get())) {
      type = eq->out_type();
    } else if (!detail::is_pointwise_module(detail::module_name(*module)) &&
               detail::module_name(*module) != "torch::nn::Flatten") {
      // A plain layer: the plane action for maps; invariant features stay invariant under Linear.
      const bool invariant_in = type && type->kind == FieldKind::Trivial;
      type.reset();
      if (invariant_in && detail::module_name(*module) == "torch::nn::Linear") {
        type = FieldType::trivial(Group::c1());
      }
    }
    Stage stage;
    stage.name = child_name;
    torch::nn::AnyModule any = child;
    stage.forward = [any](const torch::Tensor& x) mutable { return any.forward<torch::Tensor>(x); };
    if (type) {
      const bool invariant = type->kind == FieldKind::Trivial && type->group == Group::c1();
      stage.action = invariant ? invariant_action() : field_type_action(*type);
      stage.exact_action = invariant ? invariant_exact_action() : field_type_exact_action(*type);
      stage.action_name = type->str();
    } else {
      stage.action = plane_action();
      stage.exact_action = plane_exact_action();
      stage.action_name = "plane";
    }
    model.stages.push_back(std::move(stage));
  }
  return model;
}

StagedModel stages_of(const torch::jit::Module& module, const std::string& name,
                      const torch::Tensor& example) {
  StagedModel model{name, {}};
  for (const auto& child : module.named_children()) {
    Stage stage;
    stage.name = std::to_string(model.stages.size()) + ": " + child.name;
    torch::jit::Module sub = child.value;
    TORCH_CHECK(sub.find_method("forward").has_value(), "eqnn::probe::stages_of: submodule '",
                child.name, "' of TorchScript model '", name, "' has no forward method");
    stage.forward = [sub](const torch::Tensor& x) mutable { return sub.forward({x}).toTensor(); };
    stage.action = plane_action();
    stage.exact_action = plane_exact_action();
    stage.action_name = "plane";
    model.stages.push_back(std::move(stage));
  }
  TORCH_CHECK(!model.stages.empty(), "eqnn::probe::stages_of: TorchScript model '", name,
              "' has no submodules to walk; probe it as a whole with a single custom stage");
  // The walk is only meaningful if the submodules in order are the model.
  torch::NoGradGuard no_grad;
  torch::jit::Module whole = module;
  const torch::Tensor expected = whole.forward({example}).toTensor();
  const torch::Tensor walked = model.forward_all(example).back();
  TORCH_CHECK(expected.sizes() == walked.sizes() && torch::allclose(expected, walked, 1e-5, 1e-6),
              "eqnn::probe::stages_of: running the submodules of TorchScript model '", name,
              "' in order does not reproduce its forward(); its top level is not a plain sequence");
  return model;
}

}  // namespace probe
}  // namespace eqnn
