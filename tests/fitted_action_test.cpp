// Learned latent actions: the assignment against brute force; the oracle of a p4m G-CNN exported
// to plain convolutions with its channels shuffled (equivariant in its own coordinates: the fitted
// permutations make it exact and compose like D4, the plane action alone does not); a plain CNN
// with random weights gets no such fit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <numeric>

#include "support.h"

using eqnn::Group;
using namespace eqnn::probe;

namespace {

/// The row of a report (support.h).
using eqnn_test::report_row;

/// The Conv2d inside an eqnn layer's export.
torch::nn::Conv2d exported_conv(eqnn::EquivariantModule& layer) {
  for (const auto& m : layer.export_module()->modules(false))
    if (auto conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(m))
      return torch::nn::Conv2d(conv);
  FAIL("no Conv2d in the export");
  return nullptr;
}

}  // namespace

TEST_CASE("fitted latent actions: the assignment, a shuffled G-CNN oracle, a plain CNN, bad input",
          "[probe][fitted]") {
  for (int64_t seed = 0; seed < 6; ++seed) {
    const torch::Tensor cost = eqnn_test::randn({6, 6}, torch::kDouble, seed).round();  // ties too
    const auto best = min_cost_assignment(cost);
    const auto total = [&](const std::vector<int64_t>& col) {
      double t = 0;
      for (int64_t r = 0; r < 6; ++r)
        t += cost[r][col[r]].item<double>();
      return t;
    };
    std::vector<int64_t> perm(6);
    std::iota(perm.begin(), perm.end(), 0);
    double brute = std::numeric_limits<double>::infinity();
    do {
      brute = std::min(brute, total(perm));
    } while (std::next_permutation(perm.begin(), perm.end()));
    std::vector<int64_t> sorted = best;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<int64_t>{0, 1, 2, 3, 4, 5});  // a permutation
    CHECK(total(best) == Approx(brute).epsilon(1e-14));
  }
  CHECK_THROWS_WITH(min_cost_assignment(torch::zeros({2, 3})),
                    Catch::Contains("expected a square matrix"));

  // the oracle: a D4 G-CNN as plain convolutions whose channels are shuffled
  const Group d4 = Group::d4();
  torch::manual_seed(5);
  eqnn::LiftingConv2d lift(eqnn::LiftingConv2dOptions(d4, 1, 2, 3).padding(1));
  eqnn::GroupConv2d gconv(eqnn::GroupConv2dOptions(d4, 2, 2, 3).padding(1));
  torch::nn::Conv2d c1 = exported_conv(*lift), c2 = exported_conv(*gconv);
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor p1 = torch::randperm(16, torch::kLong),
                        p2 = torch::randperm(16, torch::kLong);
    c1->weight.copy_(c1->weight.index_select(0, p1));
    c1->bias.copy_(c1->bias.index_select(0, p1));
    c2->weight.copy_(c2->weight.index_select(1, p1).index_select(0, p2));
    c2->bias.copy_(c2->bias.index_select(0, p2));
  }
  torch::nn::Sequential shuffled(c1, torch::nn::ReLU(), c2, torch::nn::ReLU());
  shuffled->to(torch::kDouble);
  shuffled->eval();
  const torch::Tensor x = eqnn_test::randn({16, 1, 9, 9}, torch::kDouble, 2);
  const FittedActions fit =
      fit_latent_actions(model_of(shuffled, "shuffled"), x, group_transforms(d4));
  const std::string fixed = "shuffled [fixed action, held out]",
                    perm = "shuffled [fitted permutation]", linear = "shuffled [fitted linear]";
  REQUIRE(fit.transforms.size() == 8);
  CHECK(fit.fit_samples == 8);
  CHECK(fit.report.samples == 8);
  for (int64_t s = 0; s < 4; ++s) {
    INFO("stage " << s);
    const Report& r = fit.report;
    const ReportRow& plane = report_row(r, fixed, s, "equivariance", "cosine");
    CHECK(plane.action == "plane");
    CHECK(plane.value > 1e-2);  // the plane action alone: far from equivariant
    CHECK(report_row(r, perm, s, "equivariance", "cosine").value < 1e-13);
    CHECK(report_row(r, perm, s, "equivariance", "euclidean").value <
          1e-9 * report_row(r, fixed, s, "equivariance", "euclidean").value);
    // the linear fit is as good up to its ridge
    CHECK(report_row(r, linear, s, "equivariance", "euclidean").value <
          1e-2 * report_row(r, fixed, s, "equivariance", "euclidean").value);
    // the fitted maps compose like D4: every one of the 64 pairs, and M_e is the identity
    const FittedStage& st = fit.stages[static_cast<size_t>(s)];
    CHECK(st.channels == 16);
    CHECK(st.composition_pairs == 64);
    CHECK(st.permutation_failures == 0);
    CHECK(report_row(r, perm, s, "composition", "pairs").value == 0);
    CHECK(st.linear_composition_error < 0.05);  // the ridge shrinks the weak directions
    std::vector<int64_t> identity(16);
    std::iota(identity.begin(), identity.end(), 0);
    CHECK(st.permutations[0] == identity);
    // and the rows have intervals from the held-out samples
    CHECK(report_row(r, fixed, s, "equivariance", "cosine").per_sample.size() == 8);
    CHECK(report_row(r, fixed, s, "equivariance", "cosine").ci_low <= plane.value);
  }

  // a plain CNN with random weights: no permutation makes it equivariant
  torch::manual_seed(7);
  auto cnn = eqnn::models::plain_cnn(eqnn::models::PlainCNNOptions(9).channels1(6).channels2(6));
  cnn->to(torch::kDouble);
  cnn->eval();
  const FittedActions plain = fit_latent_actions(model_of(cnn, "cnn"), x, group_transforms(d4));
  const ReportRow& fitted0 =
      report_row(plain.report, "cnn [fitted permutation]", 0, "equivariance", "cosine");
  const ReportRow& plane0 =
      report_row(plain.report, "cnn [fixed action, held out]", 0, "equivariance", "cosine");
  CHECK(fitted0.value > 0.2 * plane0.value);
  CHECK(plain.stages[0].permutation_failures > 0.3);
  CHECK(plain.stages[0].linear_composition_error > 0.1);

  // bad input: named
  CHECK_THROWS_WITH(
      fit_latent_actions(model_of(cnn, "cnn"), x.narrow(0, 0, 1), group_transforms(d4)),
      Catch::Contains("expected at least 2 samples"));
  FittedActionOptions bad;
  bad.fit_fraction = 1;
  CHECK_THROWS_WITH(fit_latent_actions(model_of(cnn, "cnn"), x, group_transforms(d4), bad),
                    Catch::Contains("fit_fraction must be in (0, 1), got 1"));
  bad = {};
  bad.deviations = {Deviation::KL};
  CHECK_THROWS_WITH(fit_latent_actions(model_of(cnn, "cnn"), x, group_transforms(d4), bad),
                    Catch::Contains("the latent deviations are cosine and euclidean"));
}
