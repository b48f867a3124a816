// torch::save / torch::load round trips give identical outputs, in train and in eval mode.
#include <catch2/catch.hpp>

#include <cstdio>

#include "support.h"

using eqnn::Group;

TEST_CASE("save and load round trip the example network in train and eval mode", "[serialize]") {
  const std::string path = "eqnn_serialize_test.pt";
  for (const Group& g : {Group::c4(), Group::d4()}) {
    for (const bool eval : {false, true}) {
      INFO(g.name() << (eval ? " eval" : " train"));
      auto net = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(g, 8));
      net->to(torch::kDouble);
      const torch::Tensor x = eqnn_test::randn({3, 1, 8, 8}, torch::kDouble, 1);
      net->forward(x);  // move the batch-norm running statistics away from their defaults
      if (eval) net->eval();
      torch::save(net, path);

      torch::manual_seed(1234);  // a differently initialised twin
      auto loaded = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(g, 8));
      loaded->to(torch::kDouble);
      if (eval) loaded->eval();
      CHECK_FALSE(torch::equal(loaded->forward(x), net->forward(x)));
      torch::load(loaded, path);
      if (eval) loaded->eval();
      // the saved keys include parameters and batch-norm buffers
      const auto keys = loaded->named_buffers().keys();
      CHECK(std::find(keys.begin(), keys.end(), "2.running_mean") != keys.end());
      CHECK(torch::equal(loaded->forward(x), net->forward(x)));
      for (const auto& p : net->named_parameters())
        CHECK(torch::equal(p.value(), loaded->named_parameters()[p.key()]));
      std::remove(path.c_str());
    }
  }
}

TEST_CASE("clone gives an independent deep copy", "[serialize]") {
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(Group::d2(), 1, 2, 3).padding(1));
  auto copy = std::dynamic_pointer_cast<eqnn::GroupConv2dImpl>(conv->clone());
  REQUIRE(copy);
  const torch::Tensor x = eqnn_test::randn({1, 4, 5, 5}, torch::kFloat, 2);
  CHECK(torch::equal(copy->forward(x), conv->forward(x)));
  {
    torch::NoGradGuard no_grad;
    copy->weight.add_(1);
  }
  CHECK_FALSE(torch::equal(copy->forward(x), conv->forward(x)));
  CHECK(copy->options.group() == Group::d2());
}
