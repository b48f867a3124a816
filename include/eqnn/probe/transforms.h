/// \file
/// Transformations of the input used by the probes (docs/metrics.md, section 2): the exact elements
/// of a grid group, continuous rotations by arbitrary angles (bilinear interpolation about the
/// image centre), and cyclic translations. Each transform also knows how it moves plain feature
/// maps (the plane only), so latent equivariance of ordinary CNNs can be measured with the same
/// element.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eqnn/group.h"

namespace eqnn {
namespace probe {

/// One transformation of the input: a group element, a rotation or a cyclic translation.
struct Transform {
  /// The kind of transform; it decides which of the fields below apply.
  enum class Kind { GroupElement, Rotation, Translation };

  Kind kind = Kind::GroupElement;  ///< which kind of transform this is
  std::string name;                ///< "R^2", "rot 45.0", "shift (1, -2)"
  Group group;                     ///< for GroupElement
  int64_t element = 0;             ///< index in group, for GroupElement
  double degrees = 0;  ///< counter-clockwise, for Rotation (same sense as R in conventions.md)
  /// Cyclic shift in rows, for Translation.
  int64_t shift_rows = 0, shift_cols = 0;  ///< cyclic shift in columns, for Translation

  /// True for the identity element, rotations by multiples of 360 degrees and the zero shift.
  bool is_identity() const;
  /// The transform on an input image batch (B, C, H, W): trivial fields, the plane moves. Throws
  /// for other ranks.
  torch::Tensor apply(const torch::Tensor& x) const;
  /// The same transform on a plain feature map (B, C, H, W): the plane moves, channels stay. For a
  /// feature map without a plane, (B, C) or a 1x1 plane, this is the identity.
  torch::Tensor apply_to_plane(const torch::Tensor& x) const;
};

/// Every element of `group`, identity first (the group's own order). Elements off the grid are
/// named with " (interpolated)" after the element's name, e.g. "R^3 (interpolated)".
std::vector<Transform> group_transforms(const Group& group);
/// Rotations by the given angles in degrees (bilinear, zero padding outside the image).
std::vector<Transform> rotation_transforms(const std::vector<double>& degrees);
/// C_N through the continuous path: rotations by 360 k / N, k = 0..N-1.
std::vector<Transform> cyclic_rotation_transforms(int64_t n);
/// n angles drawn uniformly from [0, 360) with a seed (SO(2) sampled); the identity comes first.
std::vector<Transform> sampled_rotation_transforms(int64_t n, uint64_t seed);
/// Cyclic translations by the given (rows, cols) shifts; the identity is added first if missing.
std::vector<Transform> translation_transforms(
    const std::vector<std::pair<int64_t, int64_t>>& shifts);

/// Rotation about the image centre by `degrees`, bilinear, zeros outside: (L f)(p) = f(R^-1 p).
/// A multiple of 90 degrees reproduces torch::rot90 up to rounding (pixel centres map to pixel
/// centres). Needs square planes.
torch::Tensor rotate_bilinear(const torch::Tensor& x, double degrees);

}  // namespace probe
}  // namespace eqnn
