// Finite-difference gradient checks in float64 for both convolutions (input, weight and bias).
#include <catch2/catch.hpp>

#include <functional>

#include "support.h"

using eqnn::Group;

using eqnn_test::max_gradient_error;

TEST_CASE("convolution gradients match finite differences", "[gradient]") {
  for (const Group& g : {Group::c2(), Group::c4(), Group::d4()}) {
    INFO(g.name());
    eqnn::LiftingConv2d lift(eqnn::LiftingConv2dOptions(g, 2, 2, 3).padding(1).stride(2));
    lift->to(torch::kDouble);
    torch::Tensor x = eqnn_test::randn({1, 2, 5, 5}, torch::kDouble, 1).requires_grad_(true);
    const torch::Tensor probe = eqnn_test::randn(lift->forward(x).sizes().vec(), torch::kDouble, 2);
    auto f = [&] { return lift->forward(x); };
    CHECK(max_gradient_error(lift->weight, f, probe) < 1e-7);
    CHECK(max_gradient_error(lift->bias, f, probe) < 1e-7);
    CHECK(max_gradient_error(x, f, probe) < 1e-7);

    eqnn::GroupConv2d conv(
        eqnn::GroupConv2dOptions(g, 2, 1, 2).padding(1).padding_mode(eqnn::PaddingMode::Circular));
    conv->to(torch::kDouble);
    torch::Tensor xg =
        eqnn_test::randn({1, 2 * g.order(), 4, 4}, torch::kDouble, 3).requires_grad_(true);
    const torch::Tensor probe_g =
        eqnn_test::randn(conv->forward(xg).sizes().vec(), torch::kDouble, 4);
    auto fg = [&] { return conv->forward(xg); };
    CHECK(max_gradient_error(conv->weight, fg, probe_g) < 1e-7);
    CHECK(max_gradient_error(conv->bias, fg, probe_g) < 1e-7);
    CHECK(max_gradient_error(xg, fg, probe_g) < 1e-7);
  }
}

TEST_CASE("the base-filter gradient is the adjoint expansion of the filter-bank gradient",
          "[gradient]") {
  // Computed independently: the gradient w.r.t. the expanded bank through a plain conv2d, pulled
  // back through the ATen composition's autograd (which sums the |G| copies of each entry).
  const Group g = Group::d4();
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, 2, 2, 3).padding(1));
  conv->to(torch::kDouble);
  const torch::Tensor x = eqnn_test::randn({2, 16, 6, 6}, torch::kDouble, 5);
  conv->forward(x).square().sum().backward();
  const torch::Tensor base_grad = conv->weight.grad().clone();

  torch::Tensor tw = conv->expanded_weight().detach().requires_grad_(true);
  torch::conv2d(x, tw, conv->expanded_bias().detach(), 1, 1).square().sum().backward();
  torch::Tensor w_leaf = conv->weight.detach().clone().requires_grad_(true);
  (eqnn_test::expand_filter_aten(w_leaf, g) * tw.grad()).sum().backward();
  CHECK(eqnn_test::max_abs_diff(base_grad, w_leaf.grad()) < 1e-9);
}
