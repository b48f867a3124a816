// The check API itself: reports, tolerances, the Catch2 macro, and how it handles non-eqnn modules.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include "eqnn/testing/catch2.h"
#include "support.h"

using eqnn::FieldType;
using eqnn::Group;

TEST_CASE("default tolerances follow the conventions", "[check]") {
  CHECK(eqnn::default_tolerance(torch::kDouble, true) == 1e-10);
  CHECK(eqnn::default_tolerance(torch::kFloat, true) == 1e-5);
  CHECK(eqnn::default_tolerance(torch::kFloat, false) == 1e-4);
}

TEST_CASE("reports measure errors per element, against a hand-made counterexample", "[check]") {
  const Group g = Group::c2();
  // f(x) = x + 1 on the top-left pixel only: breaks equivariance under R^2 by exactly 1 per plane
  auto f = [](const torch::Tensor& x) {
    torch::Tensor y = x.clone();
    y.select(2, 0).select(2, 0).add_(1);
    return y;
  };
  const torch::Tensor x = torch::zeros({1, 1, 3, 3}, torch::kDouble);
  const auto report =
      eqnn::check_equivariance(f, FieldType::trivial(g, 1), FieldType::trivial(g, 1), x);
  REQUIRE(report.elements.size() == 2);
  CHECK(report.elements[0].max_abs_error == 0);
  // f(R^2 x) = f(0) has a 1 at (0,0); R^2 f(x) has the 1 at (2,2): two entries differ by 1
  CHECK(report.elements[1].max_abs_error == 1);
  CHECK(report.elements[1].rms_error == Approx(std::sqrt(2.0 / 9.0)));
  CHECK(report.output_scale == 1);
  CHECK(report.worst_element() == "R^2");
  CHECK_FALSE(report.passed());
  // an explicit tolerance above the error passes
  CHECK(eqnn::check_equivariance(f, FieldType::trivial(g, 1), FieldType::trivial(g, 1), x, 2.0)
            .passed());
}

TEST_CASE("pointwise torch modules keep the field type and the macro works on Sequentials",
          "[check]") {
  const Group g = Group::d4();
  torch::nn::Sequential net(eqnn::LiftingConv2d(eqnn::LiftingConv2dOptions(g, 1, 2, 3).padding(1)),
                            torch::nn::Tanh(), torch::nn::GELU(),
                            eqnn::GroupConv2d(eqnn::GroupConv2dOptions(g, 2, 2, 3).padding(1)),
                            eqnn::GroupPool(g), torch::nn::Sigmoid());
  const auto types = eqnn::infer_field_types(*net);
  CHECK(types.input == FieldType::trivial(g, 1));
  REQUIRE(types.outputs.size() == 6);
  CHECK(types.outputs[1] == FieldType::regular(g, 2));
  CHECK(types.outputs.back() == FieldType::trivial(g, 2));
  REQUIRE_EQUIVARIANT(net, eqnn_test::randn({2, 1, 6, 6}, torch::kFloat, 1));
}

TEST_CASE(
    "configure_threads uses every hardware thread unless OMP_NUM_THREADS is set, and caps "
    "a request at the hardware thread count",
    "[threads]") {
  const int before = at::get_num_threads();
  setenv("OMP_NUM_THREADS", "1", 1);
  at::set_num_threads(1);
  CHECK(eqnn::configure_threads() == 1);  // the user's setting wins
  unsetenv("OMP_NUM_THREADS");
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  CHECK(eqnn::configure_threads() == hw);
  // an explicit request (eqnn --threads N) beyond the machine is capped, with a warning
  std::string warning;
  CHECK(eqnn::configure_threads(1000, &warning) == hw);
  CHECK(at::get_num_threads() == hw);
  CHECK_THAT(warning, Catch::Contains("1000 threads requested") &&
                          Catch::Contains(std::to_string(hw) + " hardware threads"));
  CHECK(eqnn::configure_threads(1, &warning) == 1);
  CHECK(warning.empty());
  CHECK_THROWS_WITH(eqnn::configure_threads(-1),
                    Catch::Contains("eqnn::configure_threads: expected a thread count >= 0") &&
                        Catch::Contains("got -1"));
  at::set_num_threads(before);
}
