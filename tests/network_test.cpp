// A composed network (models::small_gcnn: lift -> pool -> group BN -> ReLU -> group conv -> pool ->
// group BN -> ReLU -> group conv -> group BN -> ReLU -> GroupPool -> global average -> linear) is
// invariant, and every intermediate output is equivariant.
#include <catch2/catch.hpp>

#include "eqnn/testing/catch2.h"
#include "support.h"

using eqnn::Group;

TEST_CASE("the example G-CNN is invariant and equivariant at every stage",
          "[equivariance][network]") {
  for (const Group& g : Group::all()) {
    for (const auto dtype : eqnn_test::float_types()) {
      for (const int64_t size : {9, 12}) {
        INFO(g.name() << " " << c10::toString(dtype) << " size=" << size);
        auto net = eqnn::models::small_gcnn(
            eqnn::models::SmallGCNNOptions(g, size).in_channels(2).classes(5));
        net->to(dtype);
        const torch::Tensor x = eqnn_test::randn({4, 2, size, size}, dtype, 8);
        REQUIRE_EQUIVARIANT(net, x);  // the logits are invariant: (B, 5) trivial features
        const auto stages = eqnn::check_equivariance_per_stage(net, x);
        REQUIRE(stages.size() == net->size());
        for (const auto& stage : stages) {
          INFO(stage.name << "\n" << stage.report.str());
          CHECK(stage.report.passed());
          CHECK(stage.report.elements.size() == static_cast<size_t>(g.order()));
        }
        // the stage types follow the architecture
        CHECK(stages[0].report.out_type == eqnn::FieldType::regular(g, 6));
        CHECK(stages[4].report.out_type == eqnn::FieldType::regular(g, 12));
        CHECK(stages[11].report.out_type == eqnn::FieldType::trivial(g, 24));
        CHECK(stages.back().report.out_type == eqnn::FieldType::trivial(g, 5));
        CHECK(net->forward(x).sizes() == torch::IntArrayRef({4, 5}));
        // eval mode too (running statistics after one training pass)
        net->eval();
        REQUIRE_EQUIVARIANT(net, x);
      }
    }
  }
}

TEST_CASE("a plain CNN is detected as not invariant", "[equivariance][network]") {
  // Same shape as the G-CNN for C4, but the lifting layer replaced by a plain convolution whose
  // filters are not rotated copies: the check must fail for the rotations and name one of them.
  const Group g = Group::c4();
  auto net = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(g, 9));
  net->to(torch::kDouble);
  const torch::Tensor plain_weight = eqnn_test::randn({24, 1, 5, 5}, torch::kDouble, 5);
  auto plain = [&](const torch::Tensor& x) {
    torch::Tensor h = torch::conv2d(x, plain_weight, {}, 1, 2);
    auto it = net->begin();
    ++it;
    for (; it != net->end(); ++it)
      h = it->forward<torch::Tensor>(h);
    return h;
  };
  const auto report = eqnn::check_equivariance(plain, eqnn::FieldType::trivial(g, 1),
                                               eqnn::FieldType::trivial(g, 10),
                                               eqnn_test::randn({2, 1, 9, 9}, torch::kDouble, 6));
  CHECK_FALSE(report.passed());
  CHECK(report.worst_element() != "e");
  CHECK(report.elements[0].max_abs_error == 0);
}
