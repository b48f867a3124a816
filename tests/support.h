// Test support: an independent model of the groups (2x2 integer matrices built from
// docs/conventions.md, not the library's tables) and a direct evaluation of the convolutions'
// defining sums, used as oracles.
#pragma once

#include <torch/torch.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "eqnn/eqnn.h"

namespace eqnn_test {

/// Integer 2x2 matrix acting on (row, column) offsets from the centre.
struct Mat2 {
  int a, b, c, d;  // [[a, b], [c, d]]
  Mat2 operator*(const Mat2& o) const {
    return {a * o.a + b * o.c, a * o.b + b * o.d, c * o.a + d * o.c, c * o.b + d * o.d};
  }
  bool operator==(const Mat2& o) const { return a == o.a && b == o.b && c == o.c && d == o.d; }
  /// Orthogonal matrices: the inverse is the transpose.
  Mat2 inverse() const { return {a, c, b, d}; }
};

/// The elements of `group` as matrices M^m R^r, in the order of conventions.md (hard-coded lists).
std::vector<Mat2> element_matrices(const eqnn::Group& group);
/// Position of m in elements, or throws.
int index_of(const std::vector<Mat2>& elements, const Mat2& m);

/// (L_g f)(p) = f(g^-1 p) on the last two dims, by explicit coordinates (square planes for quarter
/// turns), independent of the library.
torch::Tensor act_on_plane_by_coordinates(const torch::Tensor& x, const Mat2& g);

/// The defining sum of the lifting (weight rank 4) or group (weight rank 5) convolution, in
/// float64, evaluated pixel by pixel: y[b, o*|G| + t](p) = bias[o] +
///   sum_{i, s, q} x_pad[b, i*|Hin| + s](stride p + dilation q) w[o, i, idx(h_t^-1 h_s)](h_t^-1 q).
torch::Tensor direct_conv(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias, const eqnn::Group& group, int64_t stride,
                          int64_t padding, int64_t dilation, eqnn::PaddingMode mode);

/// The ATen composition the filter-expansion kernel replaces (rot90/flip + group-axis gather),
/// kept as the kernel's oracle.
torch::Tensor expand_filter_aten(const torch::Tensor& weight, const eqnn::Group& group);

torch::Tensor randn(std::vector<int64_t> shape, torch::ScalarType dtype, uint64_t seed);

/// max |a - b| in float64.
double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b);

/// n images of 12x12 in 3 classes that no rotation or mirror maps into each other (a bar, a filled
/// square, a square outline; plus noise), round-tripped through gzipped IDX files. With
/// `idx_prefix`, the IDX files (PREFIX-images.idx, PREFIX-labels.idx, uncompressed) are kept.
eqnn::data::ImageDataset shapes_dataset(int64_t n, const std::string& idx_prefix = "");

inline std::vector<torch::ScalarType> float_types() {
  return {torch::kFloat, torch::kDouble};
}

}  // namespace eqnn_test

namespace eqnn_test {

/// The ATen composition the fused action kernel replaces: group-axis index_select + rot90/flip,
/// one element at a time, stacked element-major.
torch::Tensor group_action_aten(const torch::Tensor& x, const eqnn::Group& group,
                                const std::vector<int64_t>& elements, eqnn::FieldKind kind);

/// Central differences of sum(f() * probe) w.r.t. every entry of `param`, against autograd; returns
/// the largest absolute difference (float64 tensors).
double max_gradient_error(torch::Tensor param, const std::function<torch::Tensor()>& f,
                          const torch::Tensor& probe);

/// The row (model, stage, metric, deviation) of a probe report; fails the test, naming it, when
/// there is none.
const eqnn::probe::ReportRow& report_row(const eqnn::probe::Report& r, const std::string& model,
                                         int64_t stage, const std::string& metric,
                                         const std::string& deviation);

}  // namespace eqnn_test
