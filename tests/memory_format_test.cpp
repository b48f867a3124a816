// Every layer accepts NCHW and channels_last, keeps the input's memory format in its output, gives
// the same numbers in both, and stays equivariant in channels_last.
#include <catch2/catch.hpp>

#include "eqnn/testing/catch2.h"
#include "support.h"

using eqnn::Group;

namespace {

struct Case {
  std::string name;
  torch::nn::AnyModule module;
  int64_t in_channels;
  bool keeps_plane;  // false for global pooling (1x1 outputs have no meaningful format)
};

std::vector<Case> layers(const Group& g) {
  using namespace eqnn;
  return {
      {"LiftingConv2d",
       torch::nn::AnyModule(LiftingConv2d(LiftingConv2dOptions(g, 3, 4, 3).padding(1))), 3, true},
      {"GroupConv2d", torch::nn::AnyModule(GroupConv2d(GroupConv2dOptions(g, 2, 3, 3).padding(1))),
       2 * g.order(), true},
      {"GroupConv2d reflect",
       torch::nn::AnyModule(GroupConv2d(
           GroupConv2dOptions(g, 2, 3, 3).padding(1).padding_mode(PaddingMode::Reflect))),
       2 * g.order(), true},
      {"GroupConv2d circular stride 2",
       torch::nn::AnyModule(GroupConv2d(GroupConv2dOptions(g, 2, 3, 3)
                                            .stride(2)
                                            .padding(1)
                                            .padding_mode(PaddingMode::Circular))),
       2 * g.order(), true},
      {"GroupPool max", torch::nn::AnyModule(GroupPool(g)), 2 * g.order(), true},
      {"GroupPool mean", torch::nn::AnyModule(GroupPool(GroupPoolOptions(g).mode(PoolMode::Mean))),
       2 * g.order(), true},
      {"GroupBatchNorm2d", torch::nn::AnyModule(GroupBatchNorm2d(g, 2)), 2 * g.order(), true},
      {"SpatialPool2d max",
       torch::nn::AnyModule(SpatialPool2d(SpatialPool2dOptions(g, 3).stride(2).padding(1))),
       2 * g.order(), true},
      {"SpatialPool2d mean",
       torch::nn::AnyModule(
           SpatialPool2d(SpatialPool2dOptions(g, 3).mode(PoolMode::Mean).stride(2).padding(1))),
       2 * g.order(), true},
      {"SpatialPool2d max, binomial blur",
       torch::nn::AnyModule(
           SpatialPool2d(SpatialPool2dOptions(g, 3).stride(2).padding(1).antialias(true))),
       2 * g.order(), true},
      {"SpatialPool2d max, box blur",
       torch::nn::AnyModule(SpatialPool2d(
           SpatialPool2dOptions(g, 3).stride(2).padding(1).antialias(true).blur(eqnn::Blur::Box))),
       2 * g.order(), true},
      {"GlobalAvgPool2d", torch::nn::AnyModule(GlobalAvgPool2d(g)), 2 * g.order(), false},
  };
}

}  // namespace

TEST_CASE("layers keep channels_last and agree with NCHW", "[memory_format]") {
  for (const Group& g : {Group::c2(), Group::c4(), Group::d4()}) {
    for (const auto dtype : eqnn_test::float_types()) {
      for (auto& c : layers(g)) {
        INFO(g.name() << " " << c.name << " " << c10::toString(dtype));
        c.module.ptr()->to(dtype);
        const torch::Tensor x = eqnn_test::randn({2, c.in_channels, 9, 9}, dtype, 3);
        const torch::Tensor x_cl = x.contiguous(torch::MemoryFormat::ChannelsLast);
        REQUIRE(!x_cl.is_contiguous());
        const torch::Tensor y = c.module.forward(x);
        const torch::Tensor y_cl = c.module.forward(x_cl);
        if (c.keeps_plane) {
          CHECK(y.is_contiguous());
          CHECK(y_cl.is_contiguous(torch::MemoryFormat::ChannelsLast));
          CHECK_FALSE(y_cl.is_contiguous());
        }
        CHECK(eqnn_test::max_abs_diff(y, y_cl) <= (dtype == torch::kDouble ? 1e-12 : 1e-5));
        // equivariance in channels_last, through the module's own field types
        auto* eq = dynamic_cast<eqnn::EquivariantModule*>(c.module.ptr().get());
        REQUIRE(eq != nullptr);
        auto& module = c.module;
        const auto report = eqnn::check_equivariance(
            [&module](const torch::Tensor& t) { return module.forward(t); }, eq->in_type(),
            eq->out_type(), x_cl, 0, /*single_layer=*/true);
        INFO(report.str());
        CHECK(report.passed());
      }
    }
  }
}

TEST_CASE("the example network runs in channels_last end to end", "[memory_format][network]") {
  // A 1-channel input is stored the same way in both formats: the lifting layer's channels_last
  // option decides, and every later layer follows.
  auto net =
      eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(Group::d4(), 12).channels_last(true));
  const torch::Tensor x = eqnn_test::randn({3, 1, 12, 12}, torch::kFloat, 4);
  const torch::Tensor x_cl = x;
  CHECK(eqnn_test::max_abs_diff(net->forward(x), net->forward(x_cl)) < 1e-5);
  // every 4-D intermediate stays channels_last
  torch::Tensor h = x_cl;
  for (auto& child : *net) {
    h = child.forward<torch::Tensor>(h);
    if (h.dim() == 4 && h.size(2) > 1) CHECK(h.is_contiguous(torch::MemoryFormat::ChannelsLast));
  }
  REQUIRE_EQUIVARIANT(net, x_cl);
}

TEST_CASE("to_channels_last restrides ambiguous maps for free and converts the rest",
          "[memory_format]") {
  const torch::Tensor grey = torch::rand({2, 1, 5, 5});
  const torch::Tensor grey_cl = eqnn::to_channels_last(grey);
  CHECK(grey_cl.data_ptr() == grey.data_ptr());  // no copy
  CHECK(grey_cl.suggest_memory_format() == torch::MemoryFormat::ChannelsLast);
  CHECK(torch::equal(grey_cl, grey));
  const torch::Tensor rgb = torch::rand({2, 3, 5, 5});
  const torch::Tensor rgb_cl = eqnn::to_channels_last(rgb);
  CHECK(rgb_cl.is_contiguous(torch::MemoryFormat::ChannelsLast));
  CHECK_FALSE(rgb_cl.is_contiguous());
  CHECK(torch::equal(rgb_cl, rgb));
  CHECK(eqnn::to_channels_last(rgb_cl).data_ptr() == rgb_cl.data_ptr());
}
