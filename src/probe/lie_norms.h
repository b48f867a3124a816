// The per-sample norms of a stage's Lie derivative under the rotation generator (internal;
// docs/metrics.md, section 8), from the stage's features at the two moved copies alone:
//     L = (a - b) / 2h - D (a + b) / 2,
// a = f_i(x + h D x), b = f_i(x - h D x), D the closed-form rotation generator on the stage's grid
// (central differences, zeros outside). (a + b) / 2 stands for f_i(x) (their mean differs from it
// at second order in h), so no forward of x itself is needed.
#pragma once

#include <torch/types.h>

namespace eqnn {
namespace probe {
namespace detail {

/// |L| per sample (float64, (B)) for a, b (B, C, H, W) of the same sizes and dtype. The fast
/// path: one pass over a and b (CPU, float or double, any strides), nothing materialised;
/// other devices and dtypes go to the reference.
torch::Tensor rotation_lie_norms(const torch::Tensor& a, const torch::Tensor& b, double h);

/// The same from plain ATen ops in a's precision: the twin the fast path is held to.
torch::Tensor rotation_lie_norms_reference(const torch::Tensor& a, const torch::Tensor& b,
                                           double h);

/// D y, the closed-form rotation generator on the grid of y (B, C, H, W), counter-clockwise on
/// the screen: (col - col_c) dy/drow - (row - row_c) dy/dcol with central differences, zeros
/// outside.
torch::Tensor rotation_generator(const torch::Tensor& y);

}  // namespace detail
}  // namespace probe
}  // namespace eqnn
