// The convolution layers against an independent pixel-by-pixel evaluation of their defining sums
// (tests/support.cpp: group elements as matrices, explicit coordinates, explicit padding).
#include <catch2/catch.hpp>

#include "support.h"

using eqnn::Group;
using eqnn::PaddingMode;

TEST_CASE("convolutions equal the defining sum (float64, every group)", "[conv][definition]") {
  const PaddingMode modes[] = {PaddingMode::Zeros, PaddingMode::Reflect, PaddingMode::Replicate,
                               PaddingMode::Circular};
  int cases = 0;
  for (const Group& g : Group::all()) {
    for (const int64_t k : {2, 3}) {
      for (const int64_t stride : {1, 2}) {
        for (const PaddingMode mode : modes) {
          for (const int64_t dilation : {1, 2}) {
            if (dilation == 2 && (stride == 2 || k == 2)) continue;
            const int64_t padding = k / 2;
            const int64_t size = 7;
            INFO(g.name() << " k=" << k << " stride=" << stride << " padding=" << padding << " "
                          << eqnn::to_string(mode) << " dilation=" << dilation);
            // lifting: 2 input channels -> 3 fields
            eqnn::LiftingConv2d lift(eqnn::LiftingConv2dOptions(g, 2, 3, k)
                                         .stride(stride)
                                         .padding(padding)
                                         .dilation(dilation)
                                         .padding_mode(mode)
                                         .strict(false));
            lift->to(torch::kDouble);
            {
              torch::NoGradGuard no_grad;
              lift->bias.normal_();
            }
            const torch::Tensor x = eqnn_test::randn({2, 2, size, size}, torch::kDouble, 21);
            const torch::Tensor expected = eqnn_test::direct_conv(x, lift->weight, lift->bias, g,
                                                                  stride, padding, dilation, mode);
            const torch::Tensor y = lift->forward(x);
            REQUIRE(y.sizes() == expected.sizes());
            CHECK(eqnn_test::max_abs_diff(y, expected) < 1e-12);

            // group conv: 2 fields -> 3 fields
            eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, 2, 3, k)
                                       .stride(stride)
                                       .padding(padding)
                                       .dilation(dilation)
                                       .padding_mode(mode)
                                       .strict(false));
            conv->to(torch::kDouble);
            {
              torch::NoGradGuard no_grad;
              conv->bias.normal_();
            }
            const torch::Tensor xg =
                eqnn_test::randn({2, 2 * g.order(), size, size}, torch::kDouble, 22);
            const torch::Tensor expected_g = eqnn_test::direct_conv(
                xg, conv->weight, conv->bias, g, stride, padding, dilation, mode);
            const torch::Tensor yg = conv->forward(xg);
            REQUIRE(yg.sizes() == expected_g.sizes());
            CHECK(eqnn_test::max_abs_diff(yg, expected_g) < 1e-12);
            ++cases;
          }
        }
      }
    }
  }
  CHECK(cases == 6 * 4 * 4 + 6 * 4);  // every combination ran
}

TEST_CASE("convolutions without bias equal the defining sum", "[conv][definition]") {
  for (const Group& g : {Group::c4(), Group::d4()}) {
    eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, 1, 2, 3).padding(0).bias(false));
    conv->to(torch::kDouble);
    CHECK_FALSE(conv->bias.defined());
    CHECK(conv->parameters().size() == 1);
    const torch::Tensor x = eqnn_test::randn({1, g.order(), 6, 6}, torch::kDouble, 3);
    const torch::Tensor expected =
        eqnn_test::direct_conv(x, conv->weight, torch::Tensor(), g, 1, 0, 1, PaddingMode::Zeros);
    CHECK(eqnn_test::max_abs_diff(conv->forward(x), expected) < 1e-12);
  }
}
