// eqnn/testing/gtest.h in a downstream GoogleTest suite, built against the installed package.
#include <eqnn/eqnn.h>
#include <eqnn/testing/gtest.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

const eqnn::Group c4 = eqnn::Group::c4();

torch::nn::Sequential small_gcnn() {
  return torch::nn::Sequential(
      eqnn::LiftingConv2d(eqnn::LiftingConv2dOptions(c4, 1, 4, 3).padding(1)), torch::nn::ReLU(),
      eqnn::GroupConv2d(eqnn::GroupConv2dOptions(c4, 4, 4, 3).padding(1)), eqnn::GroupPool(c4),
      eqnn::GlobalAvgPool2d(
          eqnn::GlobalAvgPool2dOptions(eqnn::FieldType::trivial(c4, 4)).flatten(true)),
      torch::nn::Linear(4, 3));
}

// Stride 2 on an 8x8 input samples a grid that is not symmetric about the centre; strict(false)
// lets the layer run, so it is not equivariant.
eqnn::GroupConv2d broken_layer() {
  eqnn::GroupConv2d layer(eqnn::GroupConv2dOptions(c4, 1, 1, 3).stride(2).padding(1).strict(false));
  layer->to(torch::kDouble);
  return layer;
}

torch::Tensor broken_input() {
  return torch::randn({1, 4, 8, 8}, torch::kDouble);
}

void assert_on_broken_layer() {
  const eqnn::GroupConv2d layer = broken_layer();
  const torch::Tensor x = broken_input();
  ASSERT_EQUIVARIANT(layer, x);
  ADD_FAILURE() << "ASSERT_EQUIVARIANT did not return";
}

}  // namespace

TEST(EqnnGTest, PassesOnEquivariantModels) {
  torch::manual_seed(0);
  const torch::nn::Sequential net = small_gcnn();
  const torch::Tensor x = torch::randn({2, 1, 9, 9});
  EXPECT_EQUIVARIANT(net, x);
  ASSERT_EQUIVARIANT(net, x);
  EXPECT_EQUIVARIANT_TOL(net, x, 1e-3);
  const eqnn::GroupConv2d layer(eqnn::GroupConv2dOptions(c4, 2, 3, 3).padding(1));
  ASSERT_EQUIVARIANT_TOL(layer, torch::randn({1, 8, 7, 7}), 1e-4) << "a single layer";
}

TEST(EqnnGTest, FailsOnNonEquivariantModelsWithTheReport) {
  torch::manual_seed(1);
  const eqnn::GroupConv2d layer = broken_layer();
  const torch::Tensor x = broken_input();
  ASSERT_FALSE(eqnn::check_equivariance(layer, x).passed());
  EXPECT_NONFATAL_FAILURE(EXPECT_EQUIVARIANT(layer, x), "layer is not equivariant on x:\nFAIL: ");
  EXPECT_NONFATAL_FAILURE(EXPECT_EQUIVARIANT(layer, x), "max abs");  // the per-element lines
  EXPECT_NONFATAL_FAILURE(EXPECT_EQUIVARIANT_TOL(layer, x, 1e-12) << "context 42", "context 42");
  EXPECT_FATAL_FAILURE(assert_on_broken_layer(), "is not equivariant on x:\nFAIL: ");
}

TEST(EqnnGTest, IsASingleStatement) {
  const eqnn::GroupConv2d layer(eqnn::GroupConv2dOptions(c4, 1, 1, 3).padding(1));
  const torch::Tensor x = torch::randn({1, 4, 5, 5});
  if (x.numel() > 0)
    EXPECT_EQUIVARIANT(layer, x);
  else
    FAIL() << "the else must bind to this if";
}
