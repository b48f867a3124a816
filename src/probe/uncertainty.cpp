#include "eqnn/probe/uncertainty.h"

#include <ATen/Parallel.h>
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

/// The q-quantile of `values` (any order; reordered), interpolating linearly between the order
/// statistics x_(i) and x_(i+1), i = floor(q (n - 1)): the value a full sort would give, found by
/// selection in O(n) (a report has a few dozen rows of 1000 resampled means each).
double quantile(std::vector<double>& values, double q) {
  const double pos = q * static_cast<double>(values.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  const auto nth = values.begin() + static_cast<std::ptrdiff_t>(i);
  std::nth_element(values.begin(), nth, values.end());
  if (i + 1 >= values.size()) return *nth;                       // the maximum
  const double next = *std::min_element(nth + 1, values.end());  // x_(i+1)
  const double f = pos - static_cast<double>(i);
  return *nth + f * (next - *nth);
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

/// Efron's percentile interval from the resampled means (reordered).
void percentile_interval(std::vector<double>& means, double level, MeanUncertainty* u) {
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
  const size_t rows = values.size();
  if (!counts.empty()) {
    // Every row's resampled means at once: mean[k][r] = sum_i counts[r][i] v_k[i] / n, the rows
    // side by side (sample-major copy) so that the inner loop runs over rows; each (k, r) sums
    // over i in order, resamples in parallel (the same numbers on any thread count).
    std::vector<double> by_sample(n * rows);
    for (size_t k = 0; k < rows; ++k)
      for (size_t i = 0; i < n; ++i)
        by_sample[i * rows + k] = (*values[k])[i];
    std::vector<double> means(rows * b);  // [k][r]
    at::parallel_for(0, static_cast<int64_t>(b), 16, [&](int64_t begin, int64_t end) {
      std::vector<double> acc(rows);
      for (int64_t r = begin; r < end; ++r) {
        std::fill(acc.begin(), acc.end(), 0.0);
        const float* c = counts.data() + static_cast<size_t>(r) * n;
        for (size_t i = 0; i < n; ++i) {
          if (c[i] == 0) continue;  // about 1/e of the draws' counts
          const double weight = static_cast<double>(c[i]);
          const double* x = by_sample.data() + i * rows;
          double* a = acc.data();
#pragma omp simd
          for (size_t k = 0; k < rows; ++k)
            a[k] += weight * x[k];
        }
        for (size_t k = 0; k < rows; ++k)
          means[k * b + static_cast<size_t>(r)] = acc[k] / static_cast<double>(n);
      }
    });
    at::parallel_for(0, static_cast<int64_t>(rows), 4, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        const auto first = means.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(k) * b);
        std::vector<double> row_means(first, first + static_cast<std::ptrdiff_t>(b));
        percentile_interval(row_means, options.level, &out[static_cast<size_t>(k)]);
      }
    });
    return out;
  }
  std::vector<double> means(b);
  for (size_t k = 0; k < rows; ++k) {
    const std::vector<double>& v = *values[k];
    std::fill(means.begin(), means.end(), 0.0);
    draw(n, options, n, [&](int64_t r, size_t i) { means[static_cast<size_t>(r)] += v[i]; });
    for (double& m : means)
      m /= static_cast<double>(n);
    percentile_interval(means, options.level, &out[k]);
  }
  return out;
}

}  // namespace probe
}  // namespace eqnn
