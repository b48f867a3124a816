/// \file
/// A self-contained SVG line chart for the HTML reports: axis titles, a linear or logarithmic y
/// axis, the legend outside the plot, gaps (not bridged lines) where a value is missing, and a
/// colour-blind-safe palette (Okabe and Ito).
#pragma once

#include <string>
#include <vector>

namespace eqnn {
namespace probe {

/// One line: a value per x position of its chart; NaN leaves a gap.
struct LineSeries {
  std::string name;       ///< the legend's entry (HTML-escaped when drawn)
  std::vector<double> y;  ///< one per LineChart::x
};

/// What to draw; svg() draws it.
struct LineChart {
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
  /// increasing, x_labels has neither 0 nor x.size() entries or a series has not x.size() values.
  std::string svg() const;
};

}  // namespace probe
}  // namespace eqnn
