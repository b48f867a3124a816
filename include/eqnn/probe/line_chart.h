/// \file
/// A self-contained SVG line or bar chart for the HTML reports: axis titles, a linear or
/// logarithmic y axis, error bars, the legend outside the plot, gaps (not bridged lines) where a
/// value is missing, and a colour-blind-safe palette (Okabe and Ito).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace eqnn {
namespace probe {

/// One line (or one bar per x position): a value per x position of its chart; NaN leaves a gap.
struct LineSeries {
  LineSeries() = default;
  /// A series without error bars or tooltips.
  LineSeries(std::string name, std::vector<double> y) : name(std::move(name)), y(std::move(y)) {}

  std::string name;       ///< the legend's entry (HTML-escaped when drawn)
  std::vector<double> y;  ///< one per LineChart::x
  /// Error bars from low to high, one per x (empty: none; NaN: none there).
  std::vector<double> low;
  std::vector<double> high;  ///< see low
  /// A tooltip per point, e.g. the model's own name of a stage (empty: "name at x").
  std::vector<std::string> labels;
};

/// What to draw; svg() draws it.
struct LineChart {
  /// Lines through the points, or grouped bars (one per series at each x, from the axis floor).
  enum class Style { Lines, Bars };
  Style style = Style::Lines;         ///< see Style
  std::string title;                  ///< drawn above the plot
  std::string x_title;                ///< e.g. "rotation (degrees)"
  std::string y_title;                ///< e.g. "test accuracy"
  std::vector<double> x;              ///< positions, strictly increasing
  std::vector<std::string> x_labels;  ///< one per x (empty: the numbers; "": no label there)
  bool log_y = false;                 ///< decades on the y axis (values <= 0 drawn at its floor)
  /// Linear axis: fixed bounds when y_min < y_max, else 0 to the largest value (or the smallest
  /// value when negative). Log axis: the decades around the positive values.
  double y_min = 0;
  double y_max = 0;                ///< see y_min
  std::vector<LineSeries> series;  ///< the lines, in legend order (colours by position)

  /// An SVG element, 760 x 320 pixels plus the legend's column. Throws when x is not strictly
  /// increasing, x_labels has neither 0 nor x.size() entries or a series has not x.size() values
  /// (low, high and labels: 0 or x.size()).
  std::string svg() const;
};

}  // namespace probe
}  // namespace eqnn
