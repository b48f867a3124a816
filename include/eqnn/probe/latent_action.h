/// \file
/// How the probe's transforms act on a probed output (docs/metrics.md, section 2: the target
/// g . f_i(x) of latent equivariance). One type for every kind of output: the exact action of a
/// group element on feature maps, where there is one, is also the form the fused metric pass uses,
/// so the action a stage is measured with and the action the fast path applies cannot disagree.
#pragma once

#include <torch/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "eqnn/field.h"
#include "eqnn/probe/transforms.h"

namespace eqnn {
namespace probe {

/// The action of a group element on feature maps, as eqnn::ops::group_action computes it: the
/// plane moves, and regular fields also permute their group axis. A tensor without a plane,
/// (B, C), is a 1x1 map.
struct ExactAction {
  Group group;                          ///< the group the element belongs to
  int64_t element = 0;                  ///< index in group
  FieldKind kind = FieldKind::Trivial;  ///< Regular: the group axis moves too
};

/// How the probe's transforms act on one probed output: the target g.f(x) of latent equivariance.
/// A small value type; make one with the static functions or parse_latent_action.
class LatentAction {
 public:
  /// What kind of action this is.
  enum class Kind {
    Plane,      ///< plain CNN feature maps (B, C, H, W): the plane moves, channels stay
    Fields,     ///< feature maps of a FieldType (regular or trivial fields over a group)
    Invariant,  ///< every transform acts as the identity
    Custom,     ///< a user function
    None,       ///< no defined action: latent equivariance is not applicable
  };
  /// A custom action: the transformed latent (N, ...), or std::nullopt where undefined.
  using Function =
      std::function<std::optional<torch::Tensor>(const torch::Tensor& latent, const Transform&)>;

  /// Plain feature maps. Features without a plane (rank != 4) have no plane action: latent
  /// equivariance is then not applicable (declare them invariant if they are).
  static LatentAction plane();
  /// Feature maps (or flattened features) of `type`: the exact action for the group elements
  /// (and rotations by multiples of 90 degrees) that the type's group contains; translations
  /// (which commute with the group axis); for trivial fields on a plane any plane transform.
  static LatentAction fields(const FieldType& type);
  /// Every transform acts as the identity (e.g. logits of an invariant network).
  static LatentAction invariant();
  /// No action: latent equivariance is reported as "n/a (why)".
  static LatentAction none(const std::string& why);
  /// `fn` returns std::nullopt for transforms it does not define.
  static LatentAction custom(const std::string& name, Function fn);

  /// "plane", "8 regular D4 fields (64 channels)", "invariant", "n/a (why)", the custom name.
  const std::string& name() const { return name_; }
  Kind kind() const { return kind_; }                    ///< the kind of action
  const FieldType& field_type() const { return type_; }  ///< for Kind::Fields

  /// tr as an exact group action on outputs of these sizes, where it is one (identity included).
  std::optional<ExactAction> exact(const Transform& tr, at::IntArrayRef sizes) const;
  /// tr acting on y (N, ...); std::nullopt where the action is not defined. Exact actions go
  /// through eqnn::ops::group_action.
  std::optional<torch::Tensor> apply(const torch::Tensor& y, const Transform& tr) const;
  /// The same from plain ATen (rot90, flip, index_select: the formulas of conventions.md), for
  /// the reference backend.
  std::optional<torch::Tensor> apply_reference(const torch::Tensor& y, const Transform& tr) const;

 private:
  LatentAction(Kind kind, std::string name) : kind_(kind), name_(std::move(name)) {}
  std::optional<torch::Tensor> apply_inexact(const torch::Tensor& y, const Transform& tr) const;
  std::optional<torch::Tensor> apply_with(const torch::Tensor& y, const Transform& tr,
                                          torch::Tensor (*exact_apply)(const torch::Tensor&,
                                                                       const ExactAction&)) const;

  Kind kind_;
  std::string name_;
  FieldType type_;
  std::shared_ptr<const Function> fn_;
};

/// Parses a declared action: "plane", "invariant", "none", "regular:p4", "trivial:d4" (the
/// group's name as Group::from_name takes it; the field count follows from the channels).
LatentAction parse_latent_action(const std::string& spec);

/// The element of `group` that `tr` is, if any: a group element or a rotation with the same
/// rotation angle (mod 360 degrees) and mirror part. It may be off the grid (Group::on_grid), in
/// which case its action on fields interpolates the plane.
std::optional<int64_t> element_in(const Group& group, const Transform& tr);

}  // namespace probe
}  // namespace eqnn
