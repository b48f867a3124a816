/// \file
/// The result of a probe: one row per (model, stage, metric, deviation), with per-element and
/// per-sample breakdowns, the uncertainty of every value, where each model's rows came from, and
/// writers for a text table, CSV, JSON and a self-contained HTML report (and a reader of the JSON,
/// to compare earlier runs).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "eqnn/probe/uncertainty.h"

namespace eqnn {
namespace probe {

/// One measurement: a metric under a deviation at one stage of one model.
struct ReportRow {
  std::string model;        ///< ProbedModel::name
  int64_t stage_index = 0;  ///< position of the stage in the forward, from 0
  std::string stage;        ///< the stage's label, e.g. "layer2.0.conv1 (Conv2d)"
  /// How the transforms act on this stage ("8 regular D4 fields (64 channels)", "plane"), for
  /// equivariance rows; "n/a (why)" where latent equivariance is not applicable (value NaN).
  std::string action;
  std::string metric;     ///< "equivariance", "invariance", "output_kl"
  std::string deviation;  ///< "cosine", "euclidean", "kl"
  double value = 0;       ///< G-EED: mean over samples and transforms
  /// Normalised G-EED (our extension, docs/metrics.md section 3): value / mean deviation between
  /// the same stage's features of different inputs; NaN when not computed.
  double normalised = std::numeric_limits<double>::quiet_NaN();
  /// The normalisation scale d_i (mean deviation between different inputs) and its standard
  /// error; NaN when not computed.
  double scale = std::numeric_limits<double>::quiet_NaN();
  double scale_standard_error =
      std::numeric_limits<double>::quiet_NaN();  ///< standard error of `scale`
  /// Standard error of `value` over samples, and the ends of its confidence interval
  /// (Report::confidence_level; docs/metrics.md, section 5); NaN when not computed. The interval
  /// of `normalised` is this one divided by `scale`.
  double standard_error = std::numeric_limits<double>::quiet_NaN();
  double ci_low = std::numeric_limits<double>::quiet_NaN();   ///< lower end of the interval
  double ci_high = std::numeric_limits<double>::quiet_NaN();  ///< upper end of the interval
  std::vector<double> per_element;  ///< mean over samples, one per transform
  std::vector<double> per_sample;   ///< mean over transforms, one per sample

  /// The index (into Report::transforms) of the element with the largest per-element value, or
  /// -1 when there is none.
  int64_t worst_element() const;
};

/// Where a model's rows came from: ordered (key, value) pairs such as eqnn_version, command,
/// model_file, model_sha256, data_file, samples, seed, date, threads.
using Provenance = std::map<std::string, std::string>;

/// The result of run_probe: every row, and writers for a table, CSV, JSON and HTML.
struct Report {
  std::vector<std::string> transforms;  ///< names, in the order of per_element
  int64_t samples = 0;                  ///< the number of probed inputs
  /// Samples whose pairs gave the normalisation scales (0 when not computed).
  int64_t normalisation_samples = 0;
  std::vector<ReportRow> rows;  ///< run_probe sorts them by stage index, metric, deviation
  /// Coverage of the rows' confidence intervals and how they were computed ("bootstrap (1000
  /// resamples, seed 24301)", "normal approximation"); empty when no row has one.
  double confidence_level = 0.95;
  std::string interval_method;                   ///< see confidence_level
  std::map<std::string, Provenance> provenance;  ///< by model name

  /// Sets every row's standard error and confidence interval from its per-sample values (rows
  /// without them keep NaN); rows with the same number of samples share the bootstrap's draws
  /// (paired_mean_uncertainties).
  void add_uncertainty(const UncertaintyOptions& options = {});

  /// Appends another report's rows and provenance (same transforms), e.g. to put several models on
  /// one chart. Throws when the transforms differ or a model is in both.
  void merge(const Report& other);
  /// Parses json()'s output (a probe.json written earlier). Throws with a clear message for text
  /// that is not such a report.
  static Report from_json(const std::string& json);
  /// The row for (model, stage index, metric, deviation), or nullptr.
  const ReportRow* find(const std::string& model, int64_t stage_index, const std::string& metric,
                        const std::string& deviation) const;

  /// An aligned table, one line per row (value, interval, normalised, worst element), then each
  /// model's provenance.
  std::string text() const;
  /// "# key: value" lines of provenance (readers: pandas' comment='#'), a header line, then one
  /// line per row: model, stage_index, stage, action, metric, deviation, value, standard_error,
  /// ci_low, ci_high, normalised, worst_element and one column per transform.
  std::string csv() const;
  /// {"samples", "transforms", "confidence_level", "interval_method", "provenance", "rows"}, each
  /// row with its fields, per_element and per_sample; NaN is written as null.
  std::string json() const;
  /// Self-contained HTML: per (metric, deviation) an inline SVG chart of the value across stages
  /// (one line per model, error bars for the intervals, each point titled with its model's stage
  /// name) and of the normalised value; the output KL as a bar chart per model; per model a
  /// stage x element heat map; the table; the provenance.
  std::string html(const std::string& title) const;
  /// The charts and table of html() as a section under `heading`, to compose pages of several
  /// reports.
  std::string html_section(const std::string& heading) const;
  /// A self-contained page around `body` (HTML), styled like html().
  static std::string html_page(const std::string& title, const std::string& body);
  /// text with &, <, > and " escaped for HTML.
  static std::string html_escape(const std::string& text);

  /// Writes text to path atomically (a temporary of its own in the same folder, then rename, so
  /// concurrent writers never share one); throws with the path on failure.
  static void write_file(const std::string& path, const std::string& contents);
};

}  // namespace probe
}  // namespace eqnn
