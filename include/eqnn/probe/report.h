/// \file
/// The result of a probe: one row per (model, stage, metric, deviation), with per-element and
/// per-sample breakdowns, and writers for a text table, CSV, JSON and a self-contained HTML report.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

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
  std::vector<double> per_element;               ///< mean over samples, one per transform
  std::vector<double> per_sample;                ///< mean over transforms, one per sample
};

/// The result of run_probe: every row, and writers for a table, CSV, JSON and HTML.
struct Report {
  std::vector<std::string> transforms;  ///< names, in the order of per_element
  int64_t samples = 0;                  ///< the number of probed inputs
  /// Samples whose pairs gave the normalisation scales (0 when not computed).
  int64_t normalisation_samples = 0;
  std::vector<ReportRow> rows;  ///< run_probe sorts them by stage index, metric, deviation

  /// Appends another report's rows (same transforms), e.g. to put several models on one chart.
  /// Throws when the transforms differ.
  void merge(const Report& other);
  /// The row for (model, stage index, metric, deviation), or nullptr.
  const ReportRow* find(const std::string& model, int64_t stage_index, const std::string& metric,
                        const std::string& deviation) const;

  std::string text() const;  ///< an aligned table, one line per row
  /// A header line, then one line per row: model, stage_index, stage, action, metric,
  /// deviation, value, normalised and one column per transform.
  std::string csv() const;
  /// {"samples", "transforms", "rows"}, each row with its fields, per_element and per_sample;
  /// NaN is written as null.
  std::string json() const;
  /// Self-contained HTML: one inline SVG chart per (metric, deviation) of the value across stages,
  /// one line per model, plus the table.
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
