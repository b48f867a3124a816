/// \file
/// Rotation of planes by any angle: the action of the group elements that are not on the pixel
/// grid (docs/conventions.md, "Rotations off the grid").
#pragma once

#include <torch/types.h>

namespace eqnn {

/// Rotates the last two dims of x (rows, columns; a square plane, any leading dims) about the
/// plane's centre by `degrees`, counter-clockwise as displayed (the sense of R in
/// docs/conventions.md): (L f)(p) = f(R^-1 p), sampled bilinearly, zeros outside the plane. A pixel
/// centre that lands within the plane is interpolated from its 4 neighbours, so the error is that
/// of bilinear interpolation (second order in the pixel size for smooth images) plus the corners
/// cut off by the square. Multiples of 90 degrees reproduce torch::rot90 up to rounding; use
/// Group::act_on_plane for those (exact). Differentiable; float16/bfloat16 are computed in float32.
torch::Tensor rotate_bilinear(const torch::Tensor& x, double degrees);

}  // namespace eqnn
