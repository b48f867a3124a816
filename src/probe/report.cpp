#include "eqnn/probe/report.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "../io/atomic_file.h"
#include "eqnn/probe/line_chart.h"

namespace eqnn {
namespace probe {
namespace {

std::string number(double v, int precision = 4) {
  if (std::isnan(v)) return "n/a";
  std::ostringstream os;
  os << std::setprecision(precision) << v;
  return os.str();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s)
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

nlohmann::json json_number(double v) {
  return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v);
}

/// "[low, high]" or "n/a".
std::string interval(double low, double high) {
  if (std::isnan(low) || std::isnan(high)) return "n/a";
  return "[" + number(low, 3) + ", " + number(high, 3) + "]";
}

/// A colour for t in [0, 1] on a ramp through five colours of viridis (dark blue to yellow):
/// ordered in lightness, readable with the common colour-vision deficiencies.
std::string heat_colour(double t) {
  static const double stops[5][3] = {
      {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(t, 0.0, 1.0) * 4;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  char out[8];
  std::snprintf(out, sizeof(out), "#%02x%02x%02x",
                static_cast<int>(std::lround(stops[i][0] + f * (stops[i + 1][0] - stops[i][0]))),
                static_cast<int>(std::lround(stops[i][1] + f * (stops[i + 1][1] - stops[i][1]))),
                static_cast<int>(std::lround(stops[i][2] + f * (stops[i + 1][2] - stops[i][2]))));
  return out;
}

double json_double(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::numeric_limits<double>::quiet_NaN();
  return j.at(key).get<double>();
}

std::vector<double> json_doubles(const nlohmann::json& j, const char* key) {
  std::vector<double> out;
  if (!j.contains(key)) return out;
  for (const auto& v : j.at(key))
    out.push_back(v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>());
  return out;
}

/// The y axis of a metric's chart.
std::string metric_axis_title(const std::string& metric) {
  if (metric == "lie_derivative") return "mean |L_X f| (per radian / pixel)";
  if (metric == "lie_attribution") return "share of the output's mean |L_X f|";
  if (metric == "lie_attribution_norm") return "mean |c_i|";
  if (metric == "composition") return "composition error";
  if (metric == "attribution_residual") return "relative residual";
  return "G-EED";
}

}  // namespace

int64_t ReportRow::worst_element() const {
  int64_t worst = -1;
  for (size_t k = 0; k < per_element.size(); ++k)
    if (!std::isnan(per_element[k]) &&
        (worst < 0 || per_element[k] > per_element[static_cast<size_t>(worst)]))
      worst = static_cast<int64_t>(k);
  return worst;
}

void Report::add_uncertainty(const UncertaintyOptions& options) {
  confidence_level = options.level;
  interval_method = options.resamples > 0
                        ? "bootstrap (" + std::to_string(options.resamples) + " resamples, seed " +
                              std::to_string(options.seed) + ")"
                        : std::string("normal approximation");
  // rows by sample count, each group resampled with the same draws
  std::map<size_t, std::vector<ReportRow*>> by_count;
  for (ReportRow& r : rows)
    if (!r.per_sample.empty() && !std::isnan(r.value)) by_count[r.per_sample.size()].push_back(&r);
  for (auto& entry : by_count) {
    std::vector<const std::vector<double>*> values;
    for (ReportRow* r : entry.second)
      values.push_back(&r->per_sample);
    const std::vector<MeanUncertainty> u = paired_mean_uncertainties(values, options);
    for (size_t k = 0; k < u.size(); ++k) {
      entry.second[k]->standard_error = u[k].standard_error;
      entry.second[k]->ci_low = u[k].low;
      entry.second[k]->ci_high = u[k].high;
    }
  }
}

void Report::merge(const Report& other) {
  TORCH_CHECK(transforms.empty() || other.transforms.empty() || transforms == other.transforms,
              "eqnn::probe::Report::merge: the reports used different transforms");
  std::set<std::string> mine;
  for (const ReportRow& r : rows)
    mine.insert(r.model);
  for (const ReportRow& r : other.rows)
    TORCH_CHECK(!mine.count(r.model), "eqnn::probe::Report::merge: model '", r.model,
                "' is in both reports (give the models different names)");
  if (transforms.empty()) transforms = other.transforms;
  samples = std::max(samples, other.samples);
  normalisation_samples = std::max(normalisation_samples, other.normalisation_samples);
  if (interval_method.empty()) {
    interval_method = other.interval_method;
    confidence_level = other.confidence_level;
  }
  rows.insert(rows.end(), other.rows.begin(), other.rows.end());
  for (const auto& entry : other.provenance)
    provenance[entry.first] = entry.second;
}

Report Report::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    TORCH_CHECK(false, "eqnn::probe::Report::from_json: not JSON: ", e.what());
  }
  TORCH_CHECK(j.is_object() && j.contains("rows") && j.at("rows").is_array() &&
                  j.contains("transforms") && j.at("transforms").is_array(),
              "eqnn::probe::Report::from_json: expected an object with 'transforms' and 'rows' ",
              "(a probe.json of eqnn probe), got ", j.type_name());
  Report report;
  try {
    report.transforms = j.at("transforms").get<std::vector<std::string>>();
    report.samples = j.value("samples", int64_t{0});
    report.normalisation_samples = j.value("normalisation_samples", int64_t{0});
    report.confidence_level = j.value("confidence_level", 0.95);
    report.interval_method = j.value("interval_method", std::string());
    if (j.contains("provenance"))
      report.provenance = j.at("provenance").get<std::map<std::string, Provenance>>();
    for (const auto& row : j.at("rows")) {
      ReportRow r;
      r.model = row.at("model").get<std::string>();
      r.stage_index = row.at("stage_index").get<int64_t>();
      r.stage = row.at("stage").get<std::string>();
      r.action = row.value("action", std::string());
      r.metric = row.at("metric").get<std::string>();
      r.deviation = row.at("deviation").get<std::string>();
      r.value = json_double(row, "value");
      r.normalised = json_double(row, "normalised");
      r.scale = json_double(row, "scale");
      r.scale_standard_error = json_double(row, "scale_standard_error");
      r.standard_error = json_double(row, "standard_error");
      r.ci_low = json_double(row, "ci_low");
      r.ci_high = json_double(row, "ci_high");
      r.per_element = json_doubles(row, "per_element");
      r.per_sample = json_doubles(row, "per_sample");
      TORCH_CHECK(r.per_element.empty() || r.per_element.size() == report.transforms.size(),
                  "eqnn::probe::Report::from_json: row '", r.model, "' / '", r.stage, "' has ",
                  r.per_element.size(), " per-element values for ", report.transforms.size(),
                  " transforms");
      report.rows.push_back(std::move(r));
    }
  } catch (const nlohmann::json::exception& e) {
    TORCH_CHECK(false, "eqnn::probe::Report::from_json: malformed report: ", e.what());
  }
  return report;
}

const ReportRow* Report::find(const std::string& model, int64_t stage_index,
                              const std::string& metric, const std::string& deviation) const {
  for (const ReportRow& r : rows)
    if (r.model == model && r.stage_index == stage_index && r.metric == metric &&
        r.deviation == deviation)
      return &r;
  return nullptr;
}

std::string Report::text() const {
  const std::string ci_title = number(100 * confidence_level, 3) + "% CI";
  std::vector<std::vector<std::string>> table = {
      {"model", "stage", "metric", "deviation", "G-EED", ci_title, "normalised*", "worst element"}};
  for (const ReportRow& r : rows) {
    const int64_t worst = r.worst_element();
    table.push_back({r.model, r.stage, r.metric, r.deviation, number(r.value),
                     interval(r.ci_low, r.ci_high), number(r.normalised),
                     worst < 0 ? "-" : transforms[static_cast<size_t>(worst)]});
  }
  std::vector<size_t> width(table[0].size(), 0);
  for (const auto& row : table)
    for (size_t c = 0; c < row.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  std::ostringstream os;
  for (size_t i = 0; i < table.size(); ++i) {
    for (size_t c = 0; c < table[i].size(); ++c)
      os << std::left << std::setw(static_cast<int>(width[c]) + 2) << table[i][c];
    os << "\n";
    if (i == 0) {
      size_t total = 0;
      for (size_t w : width)
        total += w + 2;
      os << std::string(total, '-') << "\n";
    }
  }
  os << samples << " samples x " << transforms.size() << " transforms. *normalised G-EED (eqnn's "
     << "extension): G-EED / mean deviation between different inputs at the same stage.\n";
  if (!interval_method.empty())
    os << ci_title << ": confidence interval over samples, " << interval_method << ".\n";
  for (const auto& [model, entries] : provenance) {
    os << "provenance of " << model << ":";
    for (const auto& [key, value] : entries)
      os << " " << key << "=" << value << ";";
    os << "\n";
  }
  return os.str();
}

std::string Report::csv() const {
  std::ostringstream os;
  for (const auto& [model, entries] : provenance)
    for (const auto& [key, value] : entries) {
      std::string line = value;
      std::replace(line.begin(), line.end(), '\n', ' ');
      os << "# " << model << ": " << key << ": " << line << "\n";
    }
  if (!interval_method.empty())
    os << "# confidence intervals: " << confidence_level << ", " << interval_method << "\n";
  os << "model,stage_index,stage,action,metric,deviation,value,standard_error,ci_low,ci_high,"
        "normalised,worst_element";
  for (const std::string& t : transforms)
    os << "," << csv_field("element " + t);
  os << "\n";
  for (const ReportRow& r : rows) {
    const int64_t worst = r.worst_element();
    os << csv_field(r.model) << "," << r.stage_index << "," << csv_field(r.stage) << ","
       << csv_field(r.action) << "," << r.metric << "," << r.deviation << ","
       << std::setprecision(10) << r.value << "," << r.standard_error << "," << r.ci_low << ","
       << r.ci_high << "," << r.normalised << ","
       << (worst < 0 ? std::string() : csv_field(transforms[static_cast<size_t>(worst)]));
    for (size_t k = 0; k < transforms.size(); ++k)
      os << "," << (k < r.per_element.size() ? r.per_element[k] : std::nan(""));
    os << "\n";
  }
  return os.str();
}

std::string Report::json() const {
  nlohmann::json j;
  j["samples"] = samples;
  j["normalisation_samples"] = normalisation_samples;
  j["transforms"] = transforms;
  j["confidence_level"] = confidence_level;
  j["interval_method"] = interval_method;
  j["provenance"] = provenance;
  j["rows"] = nlohmann::json::array();
  for (const ReportRow& r : rows) {
    nlohmann::json row = {{"model", r.model},
                          {"stage_index", r.stage_index},
                          {"stage", r.stage},
                          {"action", r.action},
                          {"metric", r.metric},
                          {"deviation", r.deviation},
                          {"value", json_number(r.value)},
                          {"standard_error", json_number(r.standard_error)},
                          {"ci_low", json_number(r.ci_low)},
                          {"ci_high", json_number(r.ci_high)},
                          {"normalised", json_number(r.normalised)},
                          {"scale", json_number(r.scale)},
                          {"scale_standard_error", json_number(r.scale_standard_error)}};
    const int64_t worst = r.worst_element();
    row["worst_element"] = worst < 0 ? nlohmann::json(nullptr)
                                     : nlohmann::json(transforms[static_cast<size_t>(worst)]);
    row["per_element"] = nlohmann::json::array();
    for (double v : r.per_element)
      row["per_element"].push_back(json_number(v));
    row["per_sample"] = nlohmann::json::array();
    for (double v : r.per_sample)
      row["per_sample"].push_back(json_number(v));
    j["rows"].push_back(row);
  }
  return j.dump(1);
}

std::string Report::html_section(const std::string& heading) const {
  // Per (metric, deviation) a chart of the G-EED across stages and one of the normalised G-EED
  // where any row has it; a line per model, error bars for the intervals, gaps where a model has
  // no value at a stage. Log scale: the values span float rounding (1e-15) to 1. The output KL
  // (one value per model) is a bar chart.
  std::map<int64_t, std::string> stage_names;
  std::set<int64_t> renamed;  // stage indices whose name differs between models
  std::vector<std::string> models;
  for (const ReportRow& r : rows) {
    const auto [it, added] = stage_names.emplace(r.stage_index, r.stage);
    if (!added && it->second != r.stage) renamed.insert(r.stage_index);
    if (std::find(models.begin(), models.end(), r.model) == models.end()) models.push_back(r.model);
  }
  std::map<int64_t, size_t> position;
  LineChart axes;
  for (const auto& [index, name] : stage_names) {
    position[index] = axes.x.size();
    axes.x.push_back(static_cast<double>(index));
    axes.x_labels.push_back(renamed.count(index) ? "stage " + std::to_string(index) : name);
  }
  axes.x_title = renamed.empty() ? "stage (in the order of the forward pass)"
                                 : "stage index (each point's tooltip: its model's stage)";
  axes.log_y = true;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto model_index = [&](const std::string& model) {
    return static_cast<size_t>(std::find(models.begin(), models.end(), model) - models.begin());
  };
  const auto empty_series = [&](const std::string& name, size_t n) {
    LineSeries line(name, std::vector<double>(n, nan));
    line.low = line.high = line.y;
    line.labels.resize(n);
    return line;
  };
  std::map<std::pair<std::string, std::string>, std::pair<LineChart, LineChart>> charts;
  // metrics of one stage per model (the output KL, the attribution residual): a bar per model
  std::map<std::pair<std::string, std::string>, LineChart> bars;
  const auto bar_chart = [&](const ReportRow& r) -> LineChart& {
    const auto key = std::make_pair(r.metric, r.deviation);
    auto it = bars.find(key);
    if (it != bars.end()) return it->second;
    LineChart chart;
    chart.style = LineChart::Style::Bars;
    chart.log_y = true;
    const bool kl = r.metric == "output_kl";
    chart.title = kl ? "output invariance (KL)" : r.metric + " (" + r.deviation + ")";
    chart.x_title = "model";
    chart.y_title = kl ? "KL divergence (nats)" : metric_axis_title(r.metric);
    for (size_t m = 0; m < models.size(); ++m) {
      chart.x.push_back(static_cast<double>(m));
      chart.x_labels.push_back(models[m]);
    }
    chart.series.push_back(empty_series(kl ? "output KL" : r.metric, models.size()));
    return bars.emplace(key, std::move(chart)).first->second;
  };
  for (const ReportRow& r : rows) {
    const size_t m = model_index(r.model);
    if (r.metric == "output_kl" || r.metric == "attribution_residual") {
      LineSeries& bar = bar_chart(r).series[0];
      bar.y[m] = r.value;
      bar.low[m] = r.ci_low;
      bar.high[m] = r.ci_high;
      bar.labels[m] = r.model + ", " + r.stage;
      continue;
    }
    auto key = std::make_pair(r.metric, r.deviation);
    auto it = charts.find(key);
    if (it == charts.end()) {
      LineChart raw = axes, normalised = axes;
      raw.title = r.metric + " (" + r.deviation + ")";
      raw.y_title = metric_axis_title(r.metric);
      // linear for signed contributions and for fractions in [0, 1] (0 is common there)
      raw.log_y = r.metric != "lie_attribution" && r.metric != "composition";
      normalised.title = r.metric + " (" + r.deviation + ", normalised*)";
      normalised.y_title = "normalised G-EED";
      for (const std::string& model : models) {
        raw.series.push_back(empty_series(model, axes.x.size()));
        normalised.series.push_back(empty_series(model, axes.x.size()));
      }
      it = charts.emplace(key, std::make_pair(raw, normalised)).first;
    }
    const size_t i = position[r.stage_index];
    LineSeries& raw = it->second.first.series[m];
    LineSeries& normalised = it->second.second.series[m];
    raw.y[i] = r.value;
    raw.low[i] = r.ci_low;
    raw.high[i] = r.ci_high;
    raw.labels[i] = r.model + ", " + r.stage;
    normalised.y[i] = r.normalised;
    normalised.low[i] = r.ci_low / r.scale;
    normalised.high[i] = r.ci_high / r.scale;
    normalised.labels[i] = raw.labels[i];
  }
  const std::string ci = number(100 * confidence_level, 3) + "%";
  std::ostringstream os;
  os << "<h2>" << escape_html(heading) << "</h2><p>G-EED metrics (Kvinge et al., NeurIPS 2022) per "
     << "stage: 0 means the stage is exactly invariant/equivariant to the transforms. " << samples
     << " samples, transforms: ";
  for (size_t i = 0; i < transforms.size(); ++i)
    os << (i ? ", " : "") << escape_html(transforms[i]);
  os << ". *normalised G-EED is eqnn's extension: G-EED divided by the mean deviation between "
     << "different inputs at the same stage (~1: the transforms move features as far as changing "
     << "the input does).";
  if (!interval_method.empty())
    os << " Error bars: " << ci << " confidence intervals over samples ("
       << escape_html(interval_method) << ").";
  os << "</p><div class='charts'>";
  // the G-EED first, then the Lie derivatives and the rest; the bar charts after them
  const auto rank = [](const std::string& metric) {
    static const std::vector<std::string> order = {"equivariance",         "invariance",
                                                   "lie_derivative",       "lie_attribution",
                                                   "lie_attribution_norm", "composition"};
    return std::find(order.begin(), order.end(), metric) - order.begin();
  };
  std::vector<
      const std::pair<const std::pair<std::string, std::string>, std::pair<LineChart, LineChart>>*>
      ordered;
  for (const auto& entry : charts)
    ordered.push_back(&entry);
  std::stable_sort(ordered.begin(), ordered.end(), [&](const auto* a, const auto* b) {
    return rank(a->first.first) < rank(b->first.first);
  });
  for (const auto* entry : ordered) {
    os << entry->second.first.svg();
    const auto& normalised = entry->second.second.series;
    if (std::any_of(normalised.begin(), normalised.end(), [](const LineSeries& line) {
          return std::any_of(line.y.begin(), line.y.end(), [](double v) { return !std::isnan(v); });
        }))
      os << entry->second.second.svg();
  }
  for (const auto& entry : bars)
    if (entry.first.first == "output_kl") os << entry.second.svg();
  for (const auto& entry : bars)
    if (entry.first.first != "output_kl") os << entry.second.svg();
  os << "</div>";

  // Which element breaks invariance most: per model a stage x element table, coloured by the
  // value's decade within the table, the worst element of each row in bold.
  os << "<h3>Per element</h3>";
  for (size_t m = 0; m < models.size(); ++m) {
    os << "<details" << (m == 0 ? " open" : "") << "><summary>" << escape_html(models[m])
       << ": G-EED per transform (darker: smaller; bold: the row's worst)</summary>";
    std::map<std::pair<std::string, std::string>, std::vector<const ReportRow*>> tables;
    for (const ReportRow& r : rows)
      if (r.model == models[m] && r.per_element.size() == transforms.size() && !transforms.empty())
        tables[{r.metric, r.deviation}].push_back(&r);
    for (const auto& [key, table] : tables) {
      double lo = std::numeric_limits<double>::infinity(), hi = 0;
      for (const ReportRow* r : table)
        for (double v : r->per_element)
          if (v > 0 && std::isfinite(v)) {
            lo = std::min(lo, std::log10(v));
            hi = std::max(hi, std::log10(v));
          }
      os << "<table class='heat'><caption>" << escape_html(key.first) << " ("
         << escape_html(key.second) << ")</caption><tr><th>stage</th>";
      for (const std::string& t : transforms)
        os << "<th>" << escape_html(t) << "</th>";
      os << "</tr>";
      for (const ReportRow* r : table) {
        const int64_t worst = r->worst_element();
        os << "<tr><td>" << escape_html(r->stage) << "</td>";
        for (size_t k = 0; k < transforms.size(); ++k) {
          const double v = r->per_element[k];
          const double t =
              v > 0 && std::isfinite(v) && hi > lo ? (std::log10(v) - lo) / (hi - lo) : 0.0;
          os << "<td style='background:" << heat_colour(t)
             << ";color:" << (t > 0.6 ? "#000" : "#fff")
             << (static_cast<int64_t>(k) == worst ? ";font-weight:bold" : "") << "'>"
             << number(v, 2) << "</td>";
        }
        os << "</tr>";
      }
      os << "</table>";
    }
    os << "</details>";
  }

  os << "<details><summary>Table</summary><table><tr><th>model</th><th>stage</th>"
        "<th>action</th><th>metric</th><th>deviation</th><th>G-EED</th><th>standard error</th>"
        "<th>"
     << ci << " CI</th><th>normalised*</th><th>worst element</th></tr>";
  for (const ReportRow& r : rows) {
    const int64_t worst = r.worst_element();
    os << "<tr><td>" << escape_html(r.model) << "</td><td>" << escape_html(r.stage) << "</td><td>"
       << escape_html(r.action) << "</td><td>" << r.metric << "</td><td>" << r.deviation
       << "</td><td>" << number(r.value) << "</td><td>" << number(r.standard_error, 2)
       << "</td><td>" << interval(r.ci_low, r.ci_high) << "</td><td>" << number(r.normalised)
       << "</td><td>"
       << (worst < 0 ? std::string("-") : escape_html(transforms[static_cast<size_t>(worst)]))
       << "</td></tr>";
  }
  os << "</table></details>";

  if (!provenance.empty()) {
    std::set<std::string> keys;
    for (const auto& entry : provenance)
      for (const auto& kv : entry.second)
        keys.insert(kv.first);
    os << "<details><summary>Provenance</summary><table><tr><th></th>";
    for (const auto& entry : provenance)
      os << "<th>" << escape_html(entry.first) << "</th>";
    os << "</tr>";
    for (const std::string& key : keys) {
      os << "<tr><th>" << escape_html(key) << "</th>";
      for (const auto& entry : provenance) {
        const auto it = entry.second.find(key);
        os << "<td>" << (it == entry.second.end() ? "" : escape_html(it->second)) << "</td>";
      }
      os << "</tr>";
    }
    os << "</table></details>";
  }
  return os.str();
}

std::string Report::html_page(const std::string& title, const std::string& body) {
  std::ostringstream os;
  os << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>" << escape_html(title)
     << "</title><style>body{font-family:sans-serif;margin:2em;max-width:1400px}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
        ".charts{display:flex;flex-wrap:wrap;gap:12px}"
        "table.heat{margin:8px 0}table.heat td{text-align:right;min-width:4em}"
        "table.heat td:first-child{text-align:left}"
        "caption{text-align:left;font-weight:bold;padding:4px 0}</style></head><body><h1>"
     << escape_html(title) << "</h1>" << body << "</body></html>\n";
  return os.str();
}

std::string Report::html_escape(const std::string& text) {
  return escape_html(text);
}

std::string Report::html(const std::string& title) const {
  return html_page(title, html_section("Probe"));
}

void Report::write_file(const std::string& path, const std::string& contents) {
  io::write_file_atomically(path, contents, "eqnn::probe::Report::write_file");
}

}  // namespace probe
}  // namespace eqnn
