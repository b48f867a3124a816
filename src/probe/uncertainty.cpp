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

namespace {

/// The mean, standard error and (for resamples == 0) the normal interval; NaN interval otherwise.
MeanUncertainty moments(const std::vector<double>& values, const UncertaintyOptions& options) {
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
  }
  return u;
}

/// The draws of a bootstrap: resamples x n indices in [0, n) from the stream (seed, stream),
/// delivered to `take(resample, index)` in order.
template <typename Take>
void draw(size_t n, const UncertaintyOptions& options, uint64_t stream, const Take& take) {
  std::mt19937_64 generator(mix(options.seed ^ mix(stream)));
  for (int64_t r = 0; r < options.resamples; ++r)
    for (size_t i = 0; i < n; ++i)
      // an index in [0, n) from 64 random bits by multiply-shift (the same draws on every
      // platform, unlike std::uniform_int_distribution)
      take(r, static_cast<size_t>((static_cast<unsigned __int128>(generator()) * n) >> 64));
}

/// Efron's percentile interval from the resampled means.
void percentile_interval(std::vector<double>& means, double level, MeanUncertainty* u) {
  std::sort(means.begin(), means.end());
  const double tail = 0.5 * (1 - level);
  u->low = quantile(means, tail);
  u->high = quantile(means, 1 - tail);
}

}  // namespace

MeanUncertainty mean_uncertainty(const std::vector<double>& values,
                                 const UncertaintyOptions& options, uint64_t stream) {
  MeanUncertainty u = moments(values, options);
  if (values.size() < 2 || options.resamples == 0) return u;
  std::vector<double> means(static_cast<size_t>(options.resamples), 0.0);
  draw(values.size(), options, stream,
       [&](int64_t r, size_t i) { means[static_cast<size_t>(r)] += values[i]; });
  for (double& m : means)
    m /= static_cast<double>(values.size());
  percentile_interval(means, options.level, &u);
  return u;
}

std::vector<MeanUncertainty> paired_mean_uncertainties(
    const std::vector<const std::vector<double>*>& values, const UncertaintyOptions& options) {
  std::vector<MeanUncertainty> out;
  if (values.empty()) return out;
  const size_t n = values.front()->size();
  for (const auto* v : values)
    TORCH_CHECK(v->size() == n, "eqnn::probe::paired_mean_uncertainties: expected vectors of ",
                "one length, got ", n, " and ", v->size());
  for (const auto* v : values)
    out.push_back(moments(*v, options));
  if (n < 2 || options.resamples == 0) return out;
  const size_t b = static_cast<size_t>(options.resamples);
  // The draws once as counts (resample x sample), when they fit in 16 MiB; else drawn again per
  // vector (the same draws, slower).
  std::vector<float> counts;
  if (n * b <= (size_t{1} << 22)) {
    counts.assign(n * b, 0.0f);
    draw(n, options, n, [&](int64_t r, size_t i) { counts[static_cast<size_t>(r) * n + i] += 1; });
  }
  std::vector<double> means(b);
  for (size_t k = 0; k < values.size(); ++k) {
    const std::vector<double>& v = *values[k];
    if (!counts.empty()) {
      for (size_t r = 0; r < b; ++r) {
        const float* c = counts.data() + r * n;
        const double* x = v.data();
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < n; ++i)
          s += static_cast<double>(c[i]) * x[i];
        means[r] = s / static_cast<double>(n);
      }
    } else {
      std::fill(means.begin(), means.end(), 0.0);
      draw(n, options, n, [&](int64_t r, size_t i) { means[static_cast<size_t>(r)] += v[i]; });
      for (double& m : means)
        m /= static_cast<double>(n);
    }
    percentile_interval(means, options.level, &out[k]);
  }
  return out;
}

}  // namespace probe
}  // namespace eqnn
