// Bad inputs give the documented, named errors (never a crash or silent wrong numbers).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "support.h"

using Catch::Contains;
using eqnn::Group;

TEST_CASE("layers reject bad inputs with messages that name the layer", "[errors]") {
  const Group g = Group::c4();
  eqnn::LiftingConv2d lift(eqnn::LiftingConv2dOptions(g, 3, 2, 3).padding(1));
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, 2, 2, 3).padding(1));
  eqnn::GroupPool pool(g);
  eqnn::GroupBatchNorm2d bn(g, 2);

  // wrong channel count
  CHECK_THROWS_WITH(lift->forward(torch::zeros({1, 4, 8, 8})),
                    Contains("eqnn::LiftingConv2d") &&
                        Contains("expected 3 trivial C4 fields (3 channels), got 4 channels"));
  CHECK_THROWS_WITH(conv->forward(torch::zeros({1, 7, 8, 8})),
                    Contains("eqnn::GroupConv2d") &&
                        Contains("expected 2 regular C4 fields (8 channels), got 7"));
  CHECK_THROWS_WITH(pool->forward(torch::zeros({1, 6, 8, 8})),
                    Contains("eqnn::GroupPool") && Contains("a multiple of 4 channels), got 6"));
  CHECK_THROWS_WITH(bn->forward(torch::zeros({2, 4, 8, 8})),
                    Contains("eqnn::GroupBatchNorm2d") && Contains("got 4 channels"));
  // wrong rank
  CHECK_THROWS_WITH(conv->forward(torch::zeros({8, 8, 8})),
                    Contains("eqnn::GroupConv2d: expected a 4-D input"));
  // integer input
  CHECK_THROWS_WITH(lift->forward(torch::zeros({1, 3, 8, 8}, torch::kLong)),
                    Contains("eqnn::LiftingConv2d: expected a floating-point input"));
  // dtype mix
  CHECK_THROWS_WITH(
      conv->forward(torch::zeros({1, 8, 8, 8}, torch::kDouble)),
      Contains("eqnn::GroupConv2d: input dtype Double does not match the parameters' dtype Float"));
  // non-square input to a group with quarter turns
  CHECK_THROWS_WITH(conv->forward(torch::zeros({1, 8, 8, 9})),
                    Contains("eqnn::GroupConv2d: C4 rotates by 90 degrees") &&
                        Contains("got 8x9") && Contains(".strict(false)"));
  // ... which groups without quarter turns accept
  eqnn::GroupConv2d conv_d2(eqnn::GroupConv2dOptions(Group::d2(), 1, 1, 3).padding(1));
  CHECK(conv_d2->forward(torch::zeros({1, 4, 8, 9})).sizes() == torch::IntArrayRef({1, 4, 8, 9}));
}

TEST_CASE("the exactness guard names the input sizes that work", "[errors]") {
  const Group g = Group::d4();
  eqnn::GroupConv2d strided(eqnn::GroupConv2dOptions(g, 1, 1, 3).stride(2).padding(1));
  // (32 + 2 - 3) = 31 is odd: the stride-2 grid is not symmetric
  CHECK_THROWS_WITH(
      strided->forward(torch::zeros({1, 8, 32, 32})),
      Contains("eqnn::GroupConv2d: input height 32") && Contains("not divisible by 2") &&
          Contains("Input heights that work: 31 or 33") && Contains(".strict(false)"));
  CHECK(strided->forward(torch::zeros({1, 8, 33, 33})).size(-1) == 17);

  eqnn::SpatialPool2d pool(eqnn::SpatialPool2dOptions(g, 2));
  CHECK_THROWS_WITH(pool->forward(torch::zeros({1, 8, 7, 7})),
                    Contains("eqnn::SpatialPool2d: input height 7") && Contains("6 or 8"));

  // strict(false) allows it, and the check then reports the inexactness instead of hiding it
  eqnn::GroupConv2d loose(eqnn::GroupConv2dOptions(g, 1, 1, 3).stride(2).padding(1).strict(false));
  loose->to(torch::kDouble);
  const torch::Tensor x = eqnn_test::randn({1, 8, 8, 8}, torch::kDouble, 1);
  CHECK(loose->forward(x).size(-1) == 4);
  CHECK_FALSE(eqnn::check_equivariance(loose, x).passed());
}

TEST_CASE("options are validated at construction", "[errors]") {
  const Group g = Group::c4();
  CHECK_THROWS_WITH(eqnn::GroupConv2d(eqnn::GroupConv2dOptions(g, 0, 2, 3)),
                    Contains("eqnn::GroupConv2d: the numbers of input and output"));
  CHECK_THROWS_WITH(eqnn::LiftingConv2d(eqnn::LiftingConv2dOptions(g, 1, 2, 3).stride(0)),
                    Contains("eqnn::LiftingConv2d: stride must be positive, got 0"));
  CHECK_THROWS_WITH(eqnn::GroupConv2d(eqnn::GroupConv2dOptions(g, 1, 2, 0)),
                    Contains("kernel_size must be positive"));
  CHECK_THROWS_WITH(eqnn::GroupBatchNorm2d(g, 0),
                    Contains("eqnn::GroupBatchNorm2d: num_fields must be positive"));
  CHECK_THROWS_WITH(eqnn::SpatialPool2d(eqnn::SpatialPool2dOptions(g, 2).padding(2)),
                    Contains("eqnn::SpatialPool2d: padding must be between 0 and kernel_size / 2"));
  CHECK_THROWS_WITH(eqnn::ops::expand_group_filter(torch::zeros({2, 2, 3, 3, 3}), g),
                    Contains("weight's group axis (dim 2) to have |C4| = 4 entries"));
  eqnn::GroupConv2d reflect(
      eqnn::GroupConv2dOptions(g, 1, 1, 5).padding(4).padding_mode(eqnn::PaddingMode::Reflect));
  CHECK_THROWS_WITH(reflect->forward(torch::zeros({1, 4, 3, 3})),
                    Contains("reflect padding 4 needs an input larger than the padding"));
}

TEST_CASE("sequentials whose action cannot be inferred are rejected by name", "[errors]") {
  const Group g = Group::c4();
  torch::nn::Sequential bad(eqnn::LiftingConv2d(eqnn::LiftingConv2dOptions(g, 1, 2, 3).padding(1)),
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3)));
  CHECK_THROWS_WITH(eqnn::infer_field_types(*bad),
                    Contains("cannot tell how the group acts after child 1 (torch::nn::Conv2d)"));
  torch::nn::Sequential linear_on_regular(
      eqnn::LiftingConv2d(eqnn::LiftingConv2dOptions(g, 1, 2, 3)),
      eqnn::GlobalAvgPool2d(eqnn::GlobalAvgPool2dOptions(g).flatten(true)),
      torch::nn::Linear(8, 3));
  CHECK_THROWS_WITH(eqnn::infer_field_types(*linear_on_regular),
                    Contains("child 2 (torch::nn::Linear) mixes channels"));
  torch::nn::Sequential mismatch(eqnn::LiftingConv2d(eqnn::LiftingConv2dOptions(g, 1, 2, 3)),
                                 eqnn::GroupConv2d(eqnn::GroupConv2dOptions(g, 3, 2, 3)));
  CHECK_THROWS_WITH(eqnn::infer_field_types(*mismatch),
                    Contains("child 1 (eqnn::GroupConv2d) expects 3 regular C4 fields (12 "
                             "channels) but receives 2 regular C4 fields"));
}

TEST_CASE(
    "NaN and Inf inputs propagate through layers as through torch ops, and the probe refuses "
    "them naming the stage",
    "[errors][nan]") {
  const Group g = Group::c4();
  torch::manual_seed(3);
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, 2, 2, 3).padding(1));
  eqnn::GroupPool max_pool(g);
  eqnn::GroupPool mean_pool(eqnn::GroupPoolOptions(g).mode(eqnn::PoolMode::Mean));
  for (const float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    for (const bool channels_last : {false, true}) {
      INFO("bad " << bad << ", channels_last " << channels_last);
      torch::Tensor x = torch::randn({2, 8, 8, 8});
      x[1][5][4][4] = bad;
      if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      // the convolution: every output entry whose 3x3 window holds the bad pixel is not finite
      // (the 8 output channels of sample 1 over rows and columns 3..5), all others are finite
      const torch::Tensor y = conv->forward(x);
      const torch::Tensor reached = torch::zeros_like(y, torch::kBool);
      reached[1].narrow(1, 3, 3).narrow(2, 3, 3).fill_(true);
      CHECK(torch::equal(torch::isfinite(y), reached.logical_not()));
      if (bad != bad) CHECK(torch::equal(torch::isnan(y), reached));
      // pooling over the group: the torch reductions' results, NaN and Inf included (a NaN
      // wins the max, as in torch.max)
      const torch::Tensor fields = x.contiguous().view({2, 2, 4, 8, 8});
      CHECK(torch::allclose(max_pool->forward(x), std::get<0>(fields.max(2)), 0, 0,
                            /*equal_nan=*/true));
      CHECK(torch::allclose(mean_pool->forward(x), fields.mean(2), 1e-6, 1e-6,
                            /*equal_nan=*/true));
      CHECK(std::isfinite(max_pool->forward(x)[1][1][4][4].item<float>()) == false);
      CHECK(std::isfinite(max_pool->forward(x)[1][0][4][4].item<float>()));  // another field
    }
  }

  // the probe: a NaN pixel in one input makes the metrics of the first stage NaN, and run_probe
  // throws naming the metric, the stage and the model instead of reporting a number
  eqnn::ModelSpec spec;
  spec.arch = "gcnn";
  spec.group = "p4";
  spec.input_size = 12;
  spec.width1 = spec.width2 = spec.width3 = 2;
  torch::nn::Sequential net = eqnn::build_model(spec);
  net->eval();
  torch::Tensor images = torch::rand({3, 1, 12, 12});
  images[1][0][5][6] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(eqnn::probe::run_probe(eqnn::probe::model_of(net, "nan gcnn"), images,
                                           eqnn::probe::group_transforms(g)),
                    Contains("at stage 0 '") && Contains("of model 'nan gcnn' is not finite") &&
                        Contains("NaN or Inf"));
}
