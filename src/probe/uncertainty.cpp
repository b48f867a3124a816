#include "eqnn/probe/uncertainty.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace eqnn {
namespace probe {
namespace {

/// SplitMix64's finaliser: turns (seed, stream) into well-mixed generator seeds.
uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// The q-quantile of sorted values, interpolating linearly between order statistics.
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= sorted.size()) return sorted.back();
  const double f = pos - static_cast<double>(i);
  return sorted[i] + f * (sorted[i + 1] - sorted[i]);
}

}  // namespace

double two_sided_normal_quantile(double level) {
  TORCH_CHECK(level > 0 && level < 1, "eqnn::probe::two_sided_normal_quantile: expected a level ",
              "in (0, 1), got ", level);
  // P(|Z| <= z) = erf(z / sqrt 2) is increasing in z: bisection to double precision.
  double lo = 0, hi = 40;
  for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (std::erf(mid / std::sqrt(2.0)) < level ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

MeanUncertainty mean_uncertainty(const std::vector<double>& values,
                                 const UncertaintyOptions& options, uint64_t stream) {
  TORCH_CHECK(options.level > 0 && options.level < 1, "eqnn::probe::mean_uncertainty: expected ",
              "a confidence level in (0, 1), got ", options.level);
  TORCH_CHECK(options.resamples >= 0, "eqnn::probe::mean_uncertainty: expected resamples >= 0, ",
              "got ", options.resamples);
  MeanUncertainty u;
  const size_t n = values.size();
  if (n == 0) return u;
  double sum = 0;
  for (double v : values) {
    TORCH_CHECK(std::isfinite(v), "eqnn::probe::mean_uncertainty: the values must be finite, got ",
                v);
    sum += v;
  }
  u.mean = sum / static_cast<double>(n);
  if (n < 2) return u;
  double squares = 0;  // two-pass variance: no cancellation for values far from 0
  for (double v : values)
    squares += (v - u.mean) * (v - u.mean);
  u.standard_error = std::sqrt(squares / static_cast<double>(n - 1) / static_cast<double>(n));
  if (options.resamples == 0) {
    const double half = two_sided_normal_quantile(options.level) * u.standard_error;
    u.low = u.mean - half;
    u.high = u.mean + half;
    return u;
  }
  // Efron's percentile bootstrap: the mean of n values drawn with replacement, resamples times.
  std::mt19937_64 generator(mix(options.seed ^ mix(stream)));
  // An index in [0, n) from 64 random bits by multiply-shift (the same draws on every platform,
  // unlike std::uniform_int_distribution).
  const auto pick = [&] {
    return static_cast<size_t>((static_cast<unsigned __int128>(generator()) * n) >> 64);
  };
  std::vector<double> means(static_cast<size_t>(options.resamples));
  for (double& m : means) {
    double s = 0;
    for (size_t i = 0; i < n; ++i)
      s += values[pick()];
    m = s / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  const double tail = 0.5 * (1 - options.level);
  u.low = quantile(means, tail);
  u.high = quantile(means, 1 - tail);
  return u;
}

}  // namespace probe
}  // namespace eqnn
