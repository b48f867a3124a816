// The uncertainty of the probe's means: the standard error against its formula, the normal
// interval against its quantile, the bootstrap's determinism and its coverage on data whose mean
// is known.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "eqnn/probe/uncertainty.h"

using eqnn::probe::mean_uncertainty;
using eqnn::probe::MeanUncertainty;
using eqnn::probe::UncertaintyOptions;

TEST_CASE("mean_uncertainty: standard error, normal and bootstrap intervals, coverage, errors",
          "[probe][uncertainty]") {
  // 1, 2, 3, 4: mean 2.5, sample variance 5/3, standard error sqrt(5/3 / 4)
  const std::vector<double> v = {1, 2, 3, 4};
  const double se = std::sqrt(5.0 / 3.0 / 4.0);
  UncertaintyOptions normal;
  normal.resamples = 0;
  const MeanUncertainty n = mean_uncertainty(v, normal);
  CHECK(n.mean == Approx(2.5).epsilon(1e-15));
  CHECK(n.standard_error == Approx(se).epsilon(1e-14));
  CHECK(eqnn::probe::two_sided_normal_quantile(0.95) == Approx(1.959963984540054).epsilon(1e-12));
  CHECK(eqnn::probe::two_sided_normal_quantile(0.6826894921370859) == Approx(1.0).epsilon(1e-10));
  CHECK(n.low == Approx(2.5 - 1.959963984540054 * se).epsilon(1e-12));
  CHECK(n.high == Approx(2.5 + 1.959963984540054 * se).epsilon(1e-12));

  // the bootstrap: inside the data's range, around the mean, the same for the same stream, other
  // for another stream or seed
  const MeanUncertainty b = mean_uncertainty(v);
  CHECK(b.standard_error == Approx(se).epsilon(1e-14));
  CHECK(b.low >= 1.0);
  CHECK(b.high <= 4.0);
  CHECK(b.low < 2.5);
  CHECK(b.high > 2.5);
  CHECK(mean_uncertainty(v).low == b.low);
  std::vector<double> w(50);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = std::sin(static_cast<double>(i));
  const MeanUncertainty bw = mean_uncertainty(w);
  CHECK(mean_uncertainty(w).low == bw.low);
  CHECK(mean_uncertainty(w, {}, 1).low != bw.low);
  UncertaintyOptions other_seed;
  other_seed.seed = 7;
  CHECK(mean_uncertainty(w, other_seed).high != bw.high);
  // constant values: no spread at all
  const MeanUncertainty c = mean_uncertainty({3, 3, 3});
  CHECK(c.standard_error == 0);
  CHECK(c.low == 3);
  CHECK(c.high == 3);
  // too few values for a spread
  const MeanUncertainty one = mean_uncertainty({5});
  CHECK(one.mean == 5);
  CHECK(std::isnan(one.standard_error));
  CHECK(std::isnan(one.low));
  CHECK(std::isnan(mean_uncertainty({}).mean));

  // coverage: 95% intervals of the mean of 40 exponential values (true mean 1, skewed like
  // per-sample deviations) contain 1 in about 95% of 400 data sets (binomial sd 1.1%; the
  // percentile bootstrap undercovers a little at this n)
  std::mt19937_64 gen(42);
  std::exponential_distribution<double> exponential(1.0);
  int covered_bootstrap = 0, covered_normal = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<double> x(40);
    for (double& e : x)
      e = exponential(gen);
    const MeanUncertainty ub = mean_uncertainty(x, {}, static_cast<uint64_t>(trial));
    const MeanUncertainty un = mean_uncertainty(x, normal);
    covered_bootstrap += ub.low <= 1.0 && 1.0 <= ub.high;
    covered_normal += un.low <= 1.0 && 1.0 <= un.high;
  }
  CHECK(covered_bootstrap >= 0.89 * 400);
  CHECK(covered_bootstrap <= 0.985 * 400);
  CHECK(covered_normal >= 0.89 * 400);
  CHECK(covered_normal <= 0.985 * 400);
  // a wider level gives a wider interval
  UncertaintyOptions wide;
  wide.level = 0.99;
  CHECK(mean_uncertainty(w, wide).high - mean_uncertainty(w, wide).low > bw.high - bw.low);

  // several rows on the same samples share the draws of stream n: each interval is the one
  // mean_uncertainty gives with that stream
  std::vector<double> w2 = w;
  for (double& e : w2)
    e = e * e;
  const auto paired = eqnn::probe::paired_mean_uncertainties({&w, &w2});
  REQUIRE(paired.size() == 2);
  for (size_t k = 0; k < 2; ++k) {
    const MeanUncertainty alone = mean_uncertainty(k == 0 ? w : w2, {}, w.size());
    CHECK(paired[k].mean == alone.mean);
    CHECK(paired[k].standard_error == alone.standard_error);
    CHECK(paired[k].low == Approx(alone.low).epsilon(1e-12));
    CHECK(paired[k].high == Approx(alone.high).epsilon(1e-12));
  }
  CHECK_THROWS_WITH(eqnn::probe::paired_mean_uncertainties({&w, &v}),
                    Catch::Contains("expected vectors of one length, got 50 and 4"));

  UncertaintyOptions bad;
  bad.level = 1.0;
  CHECK_THROWS_WITH(mean_uncertainty(v, bad), Catch::Contains("confidence level in (0, 1), got 1"));
  bad.level = 0.95;
  bad.resamples = -1;
  CHECK_THROWS_WITH(mean_uncertainty(v, bad), Catch::Contains("resamples >= 0, got -1"));
  CHECK_THROWS_WITH(mean_uncertainty({1, std::numeric_limits<double>::quiet_NaN()}),
                    Catch::Contains("the values must be finite, got nan"));
}
