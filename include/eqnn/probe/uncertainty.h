/// \file
/// The uncertainty of a mean over samples (docs/metrics.md, section 5): the standard error and a
/// confidence interval, from a bootstrap over the per-sample values with a fixed seed (Efron's
/// percentile interval) or from the normal approximation. Every G-EED of a Report is such a mean.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace eqnn {
namespace probe {

/// How confidence intervals are computed.
struct UncertaintyOptions {
  /// Bootstrap resamples of the per-sample values (percentile interval); 0: the normal
  /// approximation mean +- z * standard error instead (adequate when the samples are many and
  /// their values not heavy-tailed; metrics.md, 5).
  int64_t resamples = 1000;
  /// Seeds the resampling; the rows of a report with the same number of samples share the draws
  /// (paired_mean_uncertainties), so a row's interval does not depend on which other rows are in
  /// the report.
  uint64_t seed = 0x5eed;
  double level = 0.95;  ///< coverage of the interval, in (0, 1)
};

/// The mean of some values with its uncertainty; NaN where it cannot be computed (the standard
/// error and the interval need at least 2 finite values).
struct MeanUncertainty {
  double mean = std::numeric_limits<double>::quiet_NaN();  ///< the mean of the values
  /// sample standard deviation / sqrt(n)
  double standard_error = std::numeric_limits<double>::quiet_NaN();
  double low = std::numeric_limits<double>::quiet_NaN();   ///< lower end of the interval
  double high = std::numeric_limits<double>::quiet_NaN();  ///< upper end of the interval
};

/// The mean of `values` with its standard error and confidence interval under `options`;
/// `stream` selects an independent random stream of options.seed for the bootstrap. Throws for a
/// level outside (0, 1), negative resamples or a value that is not finite.
MeanUncertainty mean_uncertainty(const std::vector<double>& values,
                                 const UncertaintyOptions& options = {}, uint64_t stream = 0);

/// The same for several vectors of one length n (rows measured on the same samples), resampled
/// with the same draws, those of the stream n (a paired bootstrap: the intervals of rows on the
/// same samples move together, and a row's interval depends only on its values, n and the seed).
/// Costs one pass over the draws per vector.
std::vector<MeanUncertainty> paired_mean_uncertainties(
    const std::vector<const std::vector<double>*>& values, const UncertaintyOptions& options = {});

/// The standard normal quantile z with P(|Z| <= z) = level, e.g. 1.95996 for 0.95.
double two_sided_normal_quantile(double level);

}  // namespace probe
}  // namespace eqnn
