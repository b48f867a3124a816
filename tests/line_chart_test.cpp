// The reports' SVG charts: gaps where values are missing, escaped names, log-scale decades, error
// bars, tooltips, bars, and clear errors for inconsistent input.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "eqnn/probe/line_chart.h"

namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("LineChart draws gaps, escapes names, labels log decades and refuses bad input",
          "[report]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  eqnn::probe::LineChart chart;
  chart.title = "accuracy <by> angle";
  chart.x_title = "rotation (degrees)";
  chart.y_title = "test accuracy";
  chart.x = {0, 15, 30, 45, 60};
  chart.y_min = 0;
  chart.y_max = 1;
  chart.series = {{"a&b", {0.9, 0.8, nan, 0.7, 0.6}}, {"c", {0.5, nan, nan, nan, nan}}};
  const std::string svg = chart.svg();
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("</svg>") == svg.size() - 6);
  // a missing value splits a line: two runs for "a&b"; a single point draws no polyline
  CHECK(count(svg, "<polyline") == 2);
  CHECK(count(svg, "<circle") == 5);  // one per finite value
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("a&amp;b") != std::string::npos);
  CHECK(svg.find("a&b") == std::string::npos);
  CHECK(svg.find("accuracy &lt;by&gt; angle") != std::string::npos);
  CHECK(svg.find("rotation (degrees)") != std::string::npos);
  CHECK(svg.find("test accuracy") != std::string::npos);
  // the two series have different colours (Okabe-Ito's first two)
  CHECK(svg.find("#0072B2") != std::string::npos);
  CHECK(svg.find("#D55E00") != std::string::npos);

  // log scale: decades from the smallest to the largest positive value; 0 sits at the floor
  eqnn::probe::LineChart log_chart = chart;
  log_chart.log_y = true;
  log_chart.series = {{"e", {3e-15, 0.0, 2e-3, 0.5, nan}}};
  const std::string log_svg = log_chart.svg();
  CHECK(log_svg.find(">1e-15<") != std::string::npos);
  CHECK(log_svg.find(">1e0<") != std::string::npos);
  CHECK(log_svg.find(">1e-16<") == std::string::npos);
  CHECK(log_svg.find("(log scale)") != std::string::npos);
  CHECK(count(log_svg, "<polyline") == 1);
  CHECK(log_svg.find("inf") == std::string::npos);

  // x labels replace the numbers; an empty label draws no tick
  eqnn::probe::LineChart labelled = chart;
  labelled.x_labels = {"0", "", "", "45", ""};
  const std::string labelled_svg = labelled.svg();
  CHECK(labelled_svg.find(">45<") != std::string::npos);
  CHECK(labelled_svg.find(">15<") == std::string::npos);

  eqnn::probe::LineChart bad = chart;
  bad.x_labels = {"one"};
  CHECK_THROWS_WITH(bad.svg(), Catch::Contains("expected 0 or 5 x labels, got 1"));
  bad = chart;
  bad.x = {0, 15, 15, 45, 60};
  CHECK_THROWS_WITH(bad.svg(), Catch::Contains("x must be strictly increasing"));
  bad = chart;
  bad.series[1].y.pop_back();
  CHECK_THROWS_WITH(bad.svg(), Catch::Contains("series 'c' has 4 values for 5 x positions"));
  bad = chart;
  bad.series[0].low = {0.1, 0.2};
  bad.series[0].high = {0.1, 0.2};
  CHECK_THROWS_WITH(bad.svg(), Catch::Contains("series 'a&b' needs low and high (and labels) of "
                                               "0 or 5 values, got 2, 2 and 0"));
}

TEST_CASE("LineChart draws error bars, per-point tooltips and grouped bars", "[report]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  eqnn::probe::LineChart chart;
  chart.title = "t";
  chart.x = {0, 1, 2};
  eqnn::probe::LineSeries a("a", {1.0, 2.0, nan});
  a.low = {0.5, nan, 0.1};  // no bar without a value or without an end
  a.high = {1.5, 2.5, 0.2};
  a.labels = {"a, conv1", "", "a, fc"};
  chart.series = {a};
  // the range grows to hold the error bars: 1.5 would not reach the tick at 2 otherwise
  chart.series[0].high[0] = 4.0;
  const std::string svg = chart.svg();
  CHECK(count(svg, "<path d='M") == 1);
  CHECK(svg.find("<title>a, conv1: 1 [0.5, 4]</title>") != std::string::npos);
  CHECK(svg.find("<title>a at 1: 2</title>") != std::string::npos);  // no label: name at x
  CHECK(svg.find(">4<") != std::string::npos);                       // the axis reaches 4

  eqnn::probe::LineChart bars = chart;
  bars.style = eqnn::probe::LineChart::Style::Bars;
  bars.log_y = true;
  bars.series.push_back(eqnn::probe::LineSeries("b", {1e-12, nan, 3e-3}));
  const std::string bar_svg = bars.svg();
  CHECK(count(bar_svg, "<rect x=") == 4 + 2);  // a bar per finite value, a legend swatch each
  CHECK(count(bar_svg, "<polyline") == 0);
  CHECK(count(bar_svg, "<circle") == 0);
  CHECK(bar_svg.find(">1e-12<") != std::string::npos);
}
