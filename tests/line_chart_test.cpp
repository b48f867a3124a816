// The reports' SVG line chart: gaps where values are missing, escaped names, log-scale decades,
// and clear errors for inconsistent input.
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
}
