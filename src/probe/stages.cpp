#include "stages.h"

#include <c10/util/Exception.h>

#include <optional>

#include "eqnn/detail/group_action_kernel.h"
#include "eqnn/ops.h"

namespace eqnn {
namespace probe {
namespace detail {

TransformSet transform_set(const std::vector<Transform>& given, const char* who) {
  TORCH_CHECK(!given.empty(), who, ": no transforms given");
  TransformSet set{given, 0};
  if (!given.front().is_identity()) {
    Transform identity;
    identity.name = "e (reference)";
    set.all.insert(set.all.begin(), identity);
    set.first = 1;
  }
  return set;
}

/// Runs the model once, keeping every captured output.
std::vector<Event> capture_all(const ProbedModel& model, const torch::Tensor& x,
                               torch::Tensor* output) {
  std::vector<Event> events;
  *output = model.run(x, [&](int64_t point, const torch::Tensor& y) {
    TORCH_CHECK(point >= 0 && point < static_cast<int64_t>(model.points.size()),
                "eqnn::probe: model '", model.name, "' reported an unknown point ", point);
    events.push_back({point, y});
  });
  return events;
}

/// The stages of one forward's events: every event in order (a point called more than once per
/// forward gives "name#1", "name#2", ...), then the model output unless it is the last event.
std::vector<StageInfo> stages_of_events(const ProbedModel& model, const std::vector<Event>& events,
                                        const torch::Tensor& output) {
  std::vector<int64_t> calls(model.points.size(), 0);
  for (const Event& e : events)
    ++calls[e.point];
  for (size_t p = 0; p < model.points.size(); ++p)
    TORCH_CHECK(!model.points[p].required || calls[p] > 0, "eqnn::probe: ", model.points[p].label(),
                " of model '", model.name,
                "' produced no output during the model's forward. Plain LibTorch modules inside a "
                "custom module's forward cannot be observed from outside: add an "
                "eqnn::probe::Tap after it, or end its owner's forward with "
                "`return eqnn::report_output(*this, y);`. (TorchScript: the module is not called "
                "by forward.)");
  std::vector<StageInfo> stages;
  std::vector<int64_t> seen(model.points.size(), 0);
  for (const Event& e : events) {
    const ProbePoint& p = model.points[e.point];
    StageInfo s;
    s.point = e.point;
    s.call = seen[e.point]++;
    s.label = p.label();
    if (calls[e.point] > 1) {
      const std::string suffix = "#" + std::to_string(s.call + 1);
      s.label = p.type.empty() ? p.name + suffix : p.name + suffix + " (" + p.type + ")";
    }
    s.action = p.action;
    stages.push_back(std::move(s));
  }
  if (!events.empty() &&
      events.back().output.unsafeGetTensorImpl() == output.unsafeGetTensorImpl()) {
    stages.back().is_output = true;
  } else {
    StageInfo s;
    s.label = "output";
    s.action = model.output_action;
    s.is_output = true;
    stages.push_back(std::move(s));
  }
  return stages;
}

/// Why latent equivariance is not applicable on a stage whose outputs look like `sample` (one
/// sample per transform, transform-major), or "" where it is.
std::string not_applicable(const StageInfo& stage, const torch::Tensor& sample,
                           const TransformSet& set) {
  if (stage.action.kind() == LatentAction::Kind::None) return stage.action.name();
  if (stage.action.kind() == LatentAction::Kind::Plane && sample.dim() != 4)
    return "n/a (the plane action on features without a plane; declare the stage's action, e.g. "
           "invariant)";
  const int64_t n = sample.size(0) / set.count();
  const torch::Tensor f0 = sample.narrow(0, 0, n);
  for (int64_t k = set.first; k < set.count(); ++k) {
    const std::optional<torch::Tensor> target = stage.action.apply(f0, set.all[k]);
    if (!target)
      return "n/a (" + set.all[k].name + " has no action on " + stage.action.name() + ")";
    if (target->sizes() != sample.narrow(0, k * n, n).sizes())
      return "n/a (" + set.all[k].name + " on " + stage.action.name() + " gives the wrong shape)";
  }
  return "";
}

/// All transformed copies of x, transform-major: (K * n, C, H, W).
torch::Tensor transformed_batch(const torch::Tensor& x, const std::vector<Transform>& transforms) {
  bool one_group = true;
  for (const Transform& tr : transforms)
    one_group = one_group && tr.kind == Transform::Kind::GroupElement &&
                tr.group == transforms.front().group;
  if (one_group) {  // one fused pass for every element
    std::vector<int64_t> elements;
    for (const Transform& tr : transforms)
      elements.push_back(tr.element);
    if (static_cast<int64_t>(elements.size()) <= eqnn::detail::kMaxActionElements)
      return ops::group_action(x, transforms.front().group, elements, FieldKind::Trivial);
  }
  std::vector<torch::Tensor> copies;
  for (const Transform& tr : transforms)
    copies.push_back(tr.apply(x));
  return torch::cat(copies, 0);
}

}  // namespace detail
}  // namespace probe
}  // namespace eqnn
