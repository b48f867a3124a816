#include "eqnn/probe/transforms.h"

#include <torch/nn/functional/vision.h>

#include <cmath>
#include <random>
#include <sstream>

#include "eqnn/ops.h"
#include "eqnn/plane_rotation.h"

namespace eqnn {
namespace probe {

bool Transform::is_identity() const {
  switch (kind) {
    case Kind::GroupElement:
      return element == 0;
    case Kind::Rotation:
      return std::fmod(std::fmod(degrees, 360.0) + 360.0, 360.0) == 0.0;
    case Kind::Translation:
      return shift_rows == 0 && shift_cols == 0;
  }
  return false;
}

torch::Tensor Transform::apply(const torch::Tensor& x) const {
  TORCH_CHECK(x.dim() == 4, "eqnn::probe::Transform: expected an input batch (B, C, H, W), got ",
              x.sizes());
  return apply_to_plane(x);
}

torch::Tensor Transform::apply_to_plane(const torch::Tensor& x) const {
  if (x.dim() != 4 || (x.size(2) == 1 && x.size(3) == 1) || is_identity()) return x;
  switch (kind) {
    case Kind::GroupElement:
      return ops::group_action(x, group, {element}, FieldKind::Trivial);
    case Kind::Rotation:
      return rotate_bilinear(x, degrees);
    case Kind::Translation:
      return torch::roll(x, {shift_rows, shift_cols}, {2, 3});
  }
  return x;
}

torch::Tensor rotate_bilinear(const torch::Tensor& x, double degrees) {
  TORCH_CHECK(x.dim() == 4 && x.size(2) == x.size(3), "eqnn::probe::rotate_bilinear: expected a ",
              "square (B, C, H, H) batch, got ", x.sizes());
  return eqnn::rotate_bilinear(x, degrees);
}

std::vector<Transform> group_transforms(const Group& group) {
  std::vector<Transform> out;
  for (int64_t t = 0; t < group.order(); ++t) {
    Transform tr;
    tr.kind = Transform::Kind::GroupElement;
    tr.group = group;
    tr.element = t;
    tr.name = group.element_name(t) + (group.on_grid(t) ? "" : " (interpolated)");
    out.push_back(tr);
  }
  return out;
}

std::vector<Transform> rotation_transforms(const std::vector<double>& degrees) {
  std::vector<Transform> out;
  for (double d : degrees) {
    Transform tr;
    tr.kind = Transform::Kind::Rotation;
    tr.degrees = d;
    std::ostringstream name;
    name << "rot " << d;
    tr.name = name.str();
    out.push_back(tr);
  }
  return out;
}

std::vector<Transform> cyclic_rotation_transforms(int64_t n) {
  TORCH_CHECK(n >= 1, "eqnn::probe::cyclic_rotation_transforms: N must be positive, got ", n);
  std::vector<double> degrees;
  for (int64_t k = 0; k < n; ++k)
    degrees.push_back(360.0 * static_cast<double>(k) / n);
  return rotation_transforms(degrees);
}

std::vector<Transform> sampled_rotation_transforms(int64_t n, uint64_t seed) {
  TORCH_CHECK(n >= 1, "eqnn::probe::sampled_rotation_transforms: n must be positive, got ", n);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> angle(0.0, 360.0);
  std::vector<double> degrees = {0.0};
  while (static_cast<int64_t>(degrees.size()) < n)
    degrees.push_back(angle(rng));
  return rotation_transforms(degrees);
}

std::vector<Transform> translation_transforms(
    const std::vector<std::pair<int64_t, int64_t>>& shifts) {
  std::vector<std::pair<int64_t, int64_t>> all = shifts;
  if (all.empty() || all.front() != std::make_pair(int64_t{0}, int64_t{0}))
    all.insert(all.begin(), {0, 0});
  std::vector<Transform> out;
  for (const auto& [r, c] : all) {
    Transform tr;
    tr.kind = Transform::Kind::Translation;
    tr.shift_rows = r;
    tr.shift_cols = c;
    tr.name = "shift (" + std::to_string(r) + ", " + std::to_string(c) + ")";
    out.push_back(tr);
  }
  return out;
}

}  // namespace probe
}  // namespace eqnn
