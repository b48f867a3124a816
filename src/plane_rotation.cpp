#include "eqnn/plane_rotation.h"

#include <torch/nn/functional/vision.h>

#include <cmath>

namespace eqnn {

torch::Tensor rotate_bilinear(const torch::Tensor& x, double degrees) {
  TORCH_CHECK(
      x.defined() && x.dim() >= 2 && x.size(-1) == x.size(-2),
      "eqnn::rotate_bilinear: expected a tensor whose last two dims are a square plane, got ",
      x.defined() ? x.sizes() : at::IntArrayRef{});
  TORCH_CHECK(std::isfinite(degrees), "eqnn::rotate_bilinear: the angle must be finite, got ",
              degrees);
  const int64_t side = x.size(-1);
  if (x.numel() == 0 || side == 1) return x.clone();
  // Output pixel p (x = column, y = row, normalised so the centres of the first and last
  // column/row sit at -1 and 1) samples the input at R^-1 p, where R(row, col) rotates by +theta:
  //   col_src = x cos - y sin,  row_src = x sin + y cos.
  const double t = degrees * M_PI / 180.0, c = std::cos(t), s = std::sin(t);
  const auto compute = x.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  const auto options = x.options().dtype(compute);
  const torch::Tensor theta = torch::tensor({c, -s, 0.0, s, c, 0.0}, options).view({1, 2, 3});
  // One grid for every leading index: the leading dims become the channels of one image.
  const int64_t planes = x.numel() / (side * side);
  namespace F = torch::nn::functional;
  const torch::Tensor grid = F::affine_grid(theta, {1, planes, side, side}, /*align_corners=*/true);
  const torch::Tensor input = x.to(compute).reshape({1, planes, side, side});
  const torch::Tensor out = F::grid_sample(input, grid,
                                           F::GridSampleFuncOptions()
                                               .mode(torch::kBilinear)
                                               .padding_mode(torch::kZeros)
                                               .align_corners(true));
  torch::Tensor y = out.view(x.sizes()).to(x.scalar_type());
  return x.dim() == 4 ? y.contiguous(x.suggest_memory_format()) : y;
}

}  // namespace eqnn
