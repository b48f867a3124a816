#include "eqnn/probe/line_chart.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

#include "eqnn/probe/report.h"

namespace eqnn {
namespace probe {
namespace {

/// Okabe and Ito's palette without its yellow (too pale on white): distinguishable with every
/// common colour-vision deficiency.
const char* const kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#E69F00",
                                "#CC79A7", "#56B4E9", "#000000"};
constexpr int kPaletteSize = 7;
/// A dash pattern per pass through the palette, so lines stay apart beyond seven series.
const char* const kDashes[] = {"", "6,3", "2,2"};

std::string tick(double v) {
  std::ostringstream os;
  os << std::setprecision(3) << v;
  return os.str();
}

std::string escape(const std::string& s) {
  return Report::html_escape(s);
}

}  // namespace

std::string LineChart::svg() const {
  const size_t n = x.size();
  TORCH_CHECK(x_labels.empty() || x_labels.size() == n, "eqnn::probe::LineChart '", title,
              "': expected 0 or ", n, " x labels, got ", x_labels.size());
  for (size_t i = 1; i < n; ++i)
    TORCH_CHECK(x[i] > x[i - 1], "eqnn::probe::LineChart '", title,
                "': x must be strictly increasing, got ", x[i - 1], " then ", x[i]);
  for (const LineSeries& s : series) {
    TORCH_CHECK(s.y.size() == n, "eqnn::probe::LineChart '", title, "': series '", s.name, "' has ",
                s.y.size(), " values for ", n, " x positions");
    TORCH_CHECK((s.low.empty() || s.low.size() == n) && (s.high.empty() || s.high.size() == n) &&
                    s.low.size() == s.high.size() && (s.labels.empty() || s.labels.size() == n),
                "eqnn::probe::LineChart '", title, "': series '", s.name,
                "' needs low and high (and labels) of 0 or ", n, " values, got ", s.low.size(),
                ", ", s.high.size(), " and ", s.labels.size());
  }
  const bool bars = style == Style::Bars;

  // The y range: fixed, or from the data (error bars included).
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  const auto widen = [&](double v) {
    if (std::isfinite(v) && (!log_y || v > 0)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  };
  for (const LineSeries& s : series) {
    for (double v : s.y)
      widen(v);
    for (size_t i = 0; i < s.low.size(); ++i)
      if (std::isfinite(s.y[i])) {
        widen(s.low[i]);
        widen(s.high[i]);
      }
  }
  if (log_y) {
    if (!std::isfinite(lo)) lo = hi = 1;
    lo = std::pow(10.0, std::floor(std::log10(lo)));
    hi = std::pow(10.0, std::ceil(std::log10(hi)));
    if (hi <= lo) hi = lo * 10;
  } else if (y_min < y_max) {
    lo = y_min;
    hi = y_max;
  } else {
    if (!std::isfinite(lo)) lo = hi = 0;
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
    if (hi <= lo) hi = lo + 1;
  }

  const double plot_w = 760, height = 320, left = 78, right = 16, top = 30;
  // rotated labels of up to 28 characters reach about 95 pixels below the axis
  const double bottom = x_labels.empty() ? 52 : 118, legend_w = 250;
  // Bars sit in slots centred on the x positions (half a slot of margin at either end).
  double x_lo = n ? x.front() : 0, x_hi = n > 1 ? x.back() : x_lo + 1;
  double slot = 0;
  if (bars) {
    slot = n > 1 ? (x_hi - x_lo) / static_cast<double>(n - 1) : 1.0;
    x_lo -= slot / 2;
    x_hi += slot / 2;
  }
  const auto px = [&](double v) {
    return left + (plot_w - left - right) * (v - x_lo) / (x_hi - x_lo);
  };
  const double bar_w = bars ? 0.8 * (px(x_lo + slot) - px(x_lo)) /
                                  static_cast<double>(std::max<size_t>(1, series.size()))
                            : 0;
  const auto py = [&](double v) {
    double f;
    if (log_y)
      f = (std::log10(std::max(v, lo)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    else
      f = (std::clamp(v, lo, hi) - lo) / (hi - lo);
    return top + (height - top - bottom) * (1.0 - f);
  };
  const double x_axis = height - bottom;

  std::ostringstream os;
  os << std::setprecision(6);
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << plot_w + legend_w << "' height='"
     << height << "' font-family='sans-serif' font-size='11'>";
  os << "<text x='" << left << "' y='18' font-size='13' font-weight='bold'>" << escape(title)
     << "</text>";
  // Grid and y ticks.
  std::vector<double> y_ticks;
  if (log_y) {
    const int decades = static_cast<int>(std::lround(std::log10(hi / lo)));
    const int every = std::max(1, (decades + 7) / 8);  // at most about 8 labelled decades
    for (int d = 0; d <= decades; ++d)
      if (d % every == 0 || d == decades) y_ticks.push_back(lo * std::pow(10.0, d));
  } else {
    for (int i = 0; i <= 4; ++i)
      y_ticks.push_back(lo + (hi - lo) * i / 4.0);
  }
  for (double v : y_ticks) {
    os << "<line x1='" << left << "' y1='" << py(v) << "' x2='" << plot_w - right << "' y2='"
       << py(v) << "' stroke='#e6e6e6'/><text x='" << left - 6 << "' y='" << py(v) + 4
       << "' text-anchor='end'>";
    if (log_y)
      os << "1e" << std::lround(std::log10(v));
    else
      os << tick(v);
    os << "</text>";
  }
  // x ticks.
  for (size_t i = 0; i < n; ++i) {
    const std::string label = x_labels.empty() ? tick(x[i]) : x_labels[i];
    if (label.empty()) continue;
    os << "<line x1='" << px(x[i]) << "' y1='" << x_axis << "' x2='" << px(x[i]) << "' y2='"
       << x_axis + 4 << "' stroke='#444'/>";
    if (x_labels.empty())
      os << "<text x='" << px(x[i]) << "' y='" << x_axis + 16 << "' text-anchor='middle'>"
         << escape(label) << "</text>";
    else
      os << "<text transform='translate(" << px(x[i]) - 3 << "," << x_axis + 12 << ") rotate(30)'>"
         << escape(label.substr(0, 28)) << "</text>";
  }
  // Axes and their titles.
  os << "<line x1='" << left << "' y1='" << x_axis << "' x2='" << plot_w - right << "' y2='"
     << x_axis << "' stroke='#444'/><line x1='" << left << "' y1='" << top << "' x2='" << left
     << "' y2='" << x_axis << "' stroke='#444'/>";
  os << "<text x='" << (left + plot_w - right) / 2 << "' y='" << height - 6
     << "' text-anchor='middle'>" << escape(x_title) << "</text>";
  os << "<text transform='translate(14," << (top + x_axis) / 2
     << ") rotate(-90)' text-anchor='middle'>" << escape(y_title) << (log_y ? " (log scale)" : "")
     << "</text>";

  // Lines: one polyline per run of finite values, so a missing value leaves a gap. Bars: one per
  // finite value, side by side within the slot.
  for (size_t k = 0; k < series.size(); ++k) {
    const LineSeries& s = series[k];
    const char* colour = kPalette[k % kPaletteSize];
    const char* dash = kDashes[(k / kPaletteSize) % 3];
    const auto drawn = [&](double v) { return std::isfinite(v); };
    const auto centre = [&](size_t i) {
      return bars ? px(x[i]) + bar_w * (static_cast<double>(k) -
                                        0.5 * static_cast<double>(series.size() - 1))
                  : px(x[i]);
    };
    const auto tooltip = [&](size_t i) {
      std::string text = s.labels.empty() || s.labels[i].empty()
                             ? s.name + " at " + (x_labels.empty() ? tick(x[i]) : x_labels[i])
                             : s.labels[i];
      text += ": " + tick(s.y[i]);
      if (!s.low.empty() && std::isfinite(s.low[i]) && std::isfinite(s.high[i]))
        text += " [" + tick(s.low[i]) + ", " + tick(s.high[i]) + "]";
      return escape(text);
    };
    // Error bars first, under the points.
    for (size_t i = 0; i < s.low.size(); ++i) {
      if (!drawn(s.y[i]) || !drawn(s.low[i]) || !drawn(s.high[i])) continue;
      const double cx = centre(i), y0 = py(s.low[i]), y1 = py(s.high[i]);
      os << "<path d='M" << cx << "," << y0 << "V" << y1 << "M" << cx - 3 << "," << y0 << "h6M"
         << cx - 3 << "," << y1 << "h6' stroke='" << (bars ? "#222" : colour)
         << "' stroke-width='1' fill='none'/>";
    }
    if (bars) {
      for (size_t i = 0; i < n; ++i) {
        if (!drawn(s.y[i])) continue;
        const double top_y = py(s.y[i]);
        os << "<rect x='" << centre(i) - bar_w / 2 << "' y='" << top_y << "' width='" << bar_w
           << "' height='" << std::max(0.0, x_axis - top_y) << "' fill='" << colour
           << "' fill-opacity='0.85'><title>" << tooltip(i) << "</title></rect>";
      }
    }
    for (size_t i = 0; i < n && !bars;) {
      if (!drawn(s.y[i])) {
        ++i;
        continue;
      }
      size_t end = i;
      while (end < n && drawn(s.y[end]))
        ++end;
      if (end - i > 1) {
        os << "<polyline fill='none' stroke='" << colour << "' stroke-width='2'"
           << (*dash ? std::string(" stroke-dasharray='") + dash + "'" : std::string())
           << " points='";
        for (size_t j = i; j < end; ++j)
          os << px(x[j]) << "," << py(s.y[j]) << " ";
        os << "'/>";
      }
      for (size_t j = i; j < end; ++j)
        os << "<circle cx='" << px(x[j]) << "' cy='" << py(s.y[j]) << "' r='3' fill='" << colour
           << "'><title>" << tooltip(j) << "</title></circle>";
      i = end;
    }
    // The legend, outside the plot on the right.
    const double ly = top + 6 + 18 * static_cast<double>(k);
    if (bars)
      os << "<rect x='" << plot_w + 4 << "' y='" << ly - 5 << "' width='24' height='10' fill='"
         << colour << "'/>";
    else
      os << "<line x1='" << plot_w + 4 << "' y1='" << ly << "' x2='" << plot_w + 28 << "' y2='"
         << ly << "' stroke='" << colour << "' stroke-width='2'"
         << (*dash ? std::string(" stroke-dasharray='") + dash + "'" : std::string()) << "/>";
    os << "<text x='" << plot_w + 34 << "' y='" << ly + 4 << "'>" << escape(s.name.substr(0, 36))
       << "</text>";
  }
  os << "</svg>";
  return os.str();
}

}  // namespace probe
}  // namespace eqnn
