#include "eqnn/probe/latent_action.h"

#include <cmath>

#include "eqnn/ops.h"

namespace eqnn {
namespace probe {

std::optional<int64_t> element_in(const Group& group, const Transform& tr) {
  double degrees = 0;
  bool mirror = false;
  if (tr.kind == Transform::Kind::GroupElement) {
    degrees = tr.group.rotation_degrees(tr.element);
    mirror = tr.group.is_mirror(tr.element);
  } else if (tr.kind == Transform::Kind::Rotation) {
    degrees = tr.degrees;
  } else {
    return std::nullopt;
  }
  // the same rotation angle (mod 360) and the same mirror part
  for (int64_t t = 0; t < group.order(); ++t) {
    if (group.is_mirror(t) != mirror) continue;
    const double turns = (degrees - group.rotation_degrees(t)) / 360.0;
    if (std::abs(turns - std::round(turns)) < 1e-9) return t;
  }
  return std::nullopt;
}

LatentAction LatentAction::plane() {
  return LatentAction(Kind::Plane, "plane");
}

LatentAction LatentAction::fields(const FieldType& type) {
  LatentAction a(Kind::Fields, type.str());
  a.type_ = type;
  return a;
}

LatentAction LatentAction::invariant() {
  return LatentAction(Kind::Invariant, "invariant");
}

LatentAction LatentAction::none(const std::string& why) {
  return LatentAction(Kind::None, "n/a (" + why + ")");
}

LatentAction LatentAction::custom(const std::string& name, Function fn) {
  TORCH_CHECK(fn != nullptr, "eqnn::probe::LatentAction::custom: no function given for '", name,
              "'");
  LatentAction a(Kind::Custom, name);
  a.fn_ = std::make_shared<const Function>(std::move(fn));
  return a;
}

std::optional<ExactAction> LatentAction::exact(const Transform& tr, at::IntArrayRef sizes) const {
  if (kind_ == Kind::None || kind_ == Kind::Custom) return std::nullopt;
  if (kind_ == Kind::Invariant || tr.is_identity()) return ExactAction{};
  if (kind_ == Kind::Plane && sizes.size() != 4) return std::nullopt;
  std::optional<ExactAction> a;
  if (kind_ == Kind::Fields) {
    TORCH_CHECK(sizes.size() >= 2 && sizes[1] % type_.channels_per_field() == 0, "the action on ",
                type_.str(), " needs a multiple of ", type_.channels_per_field(),
                " channels, but the output has shape ", sizes);
    if (const auto element = element_in(type_.group, tr)) {
      if (!type_.group.on_grid(*element)) return std::nullopt;  // interpolated: apply_inexact
      a = ExactAction{type_.group, *element, type_.kind};
    } else if (type_.kind == FieldKind::Trivial)
      if (const auto d4 = element_in(Group::d4(), tr))
        a = ExactAction{Group::d4(), *d4, FieldKind::Trivial};
  } else if (const auto d4 = element_in(Group::d4(), tr)) {  // the plane
    a = ExactAction{Group::d4(), *d4, FieldKind::Trivial};
  }
  // A quarter turn of a plane that is not square is no exact action (and no action at all).
  if (a && sizes.size() == 4 && sizes[2] != sizes[3] && a->group.d4_index(a->element) % 2 == 1)
    return std::nullopt;
  return a;
}

std::optional<torch::Tensor> LatentAction::apply_inexact(const torch::Tensor& y,
                                                         const Transform& tr) const {
  const bool on_plane = y.dim() == 4;
  const bool trivial =
      kind_ == Kind::Plane || (kind_ == Kind::Fields && type_.kind == FieldKind::Trivial);
  // Translations commute with the group axis; trivial fields take any plane transform, and
  // trivial fields without a plane are invariant to it.
  if (kind_ == Kind::Fields && !on_plane && type_.kind == FieldKind::Trivial) return y;
  // An element of the fields' group off the grid: the group axis moves exactly, the plane by
  // interpolation.
  if (kind_ == Kind::Fields && type_.kind == FieldKind::Regular && (on_plane || y.dim() == 2))
    if (const auto element = element_in(type_.group, tr))
      return ops::group_action(y, type_.group, {*element}, FieldKind::Regular);
  if (on_plane && (tr.kind == Transform::Kind::Translation || trivial) &&
      (kind_ == Kind::Plane || kind_ == Kind::Fields))
    return tr.apply_to_plane(y);
  return std::nullopt;
}

namespace {

/// y as (N, C, H, W): features without a plane are 1x1 maps.
torch::Tensor as_maps(const torch::Tensor& y) {
  return y.dim() == 2 ? y.reshape({y.size(0), y.size(1), 1, 1}) : y;
}

/// The exact action through the fused op.
torch::Tensor exact_by_op(const torch::Tensor& maps, const ExactAction& a) {
  return ops::group_action(maps, a.group, {a.element}, a.kind);
}

/// The same from plain ATen, conventions.md: (L_g f)[c, t](x) = f[c, idx(g^-1 h_t)](g^-1 x);
/// trivial fields: the plane only.
torch::Tensor exact_by_aten(const torch::Tensor& maps_in, const ExactAction& a) {
  torch::Tensor maps = a.group.act_on_plane(maps_in, a.element);
  if (a.kind != FieldKind::Regular) return maps;
  const int64_t g = a.group.order();
  const auto s = maps.sizes();
  return maps.reshape({s[0], s[1] / g, g, s[2], s[3]})
      .index_select(2, a.group.regular_permutation(a.element).to(maps.device()))
      .reshape(s);
}

}  // namespace

std::optional<torch::Tensor> LatentAction::apply_with(
    const torch::Tensor& y, const Transform& tr,
    torch::Tensor (*exact_apply)(const torch::Tensor&, const ExactAction&)) const {
  if (kind_ == Kind::None) return std::nullopt;
  if (kind_ == Kind::Custom) return (*fn_)(y, tr);
  if (kind_ == Kind::Invariant || tr.is_identity()) return y;
  if (const auto a = exact(tr, y.sizes())) {
    if (y.dim() != 2 && y.dim() != 4) return std::nullopt;
    return exact_apply(as_maps(y), *a).reshape(y.sizes());
  }
  return apply_inexact(y, tr);
}

std::optional<torch::Tensor> LatentAction::apply(const torch::Tensor& y,
                                                 const Transform& tr) const {
  return apply_with(y, tr, &exact_by_op);
}

std::optional<torch::Tensor> LatentAction::apply_reference(const torch::Tensor& y,
                                                           const Transform& tr) const {
  return apply_with(y, tr, &exact_by_aten);
}

LatentAction parse_latent_action(const std::string& spec) {
  if (spec == "plane") return LatentAction::plane();
  if (spec == "invariant") return LatentAction::invariant();
  if (spec == "none" || spec == "n/a") return LatentAction::none("declared");
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  TORCH_CHECK(colon != std::string::npos && (kind == "regular" || kind == "trivial"),
              "eqnn::probe: unknown action '", spec,
              "'; expected plane, invariant, none, regular:GROUP or trivial:GROUP (GROUP one of c1 "
              "c2 c4 d1 d2 d4 p4 p4m)");
  const Group group = Group::from_name(spec.substr(colon + 1));
  return LatentAction::fields(kind == "regular" ? FieldType::regular(group)
                                                : FieldType::trivial(group));
}

}  // namespace probe
}  // namespace eqnn
