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

}  // namespace

void Report::merge(const Report& other) {
  TORCH_CHECK(transforms.empty() || other.transforms.empty() || transforms == other.transforms,
              "eqnn::probe::Report::merge: the reports used different transforms");
  if (transforms.empty()) transforms = other.transforms;
  samples = std::max(samples, other.samples);
  rows.insert(rows.end(), other.rows.begin(), other.rows.end());
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
  std::vector<std::vector<std::string>> table = {
      {"model", "stage", "metric", "deviation", "G-EED", "normalised*", "worst element"}};
  for (const ReportRow& r : rows) {
    std::string worst = "-";
    if (!r.per_element.empty()) {
      const auto it = std::max_element(r.per_element.begin(), r.per_element.end());
      worst = transforms[static_cast<size_t>(it - r.per_element.begin())];
    }
    table.push_back(
        {r.model, r.stage, r.metric, r.deviation, number(r.value), number(r.normalised), worst});
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
  return os.str();
}

std::string Report::csv() const {
  std::ostringstream os;
  os << "model,stage_index,stage,action,metric,deviation,value,normalised";
  for (const std::string& t : transforms)
    os << "," << csv_field("element " + t);
  os << "\n";
  for (const ReportRow& r : rows) {
    os << csv_field(r.model) << "," << r.stage_index << "," << csv_field(r.stage) << ","
       << csv_field(r.action) << "," << r.metric << "," << r.deviation << ","
       << std::setprecision(10) << r.value << "," << r.normalised;
    for (size_t k = 0; k < transforms.size(); ++k)
      os << "," << (k < r.per_element.size() ? r.per_element[k] : std::nan(""));
    os << "\n";
  }
  return os.str();
}

std::string Report::json() const {
  nlohmann::json j;
  j["samples"] = samples;
  j["transforms"] = transforms;
  j["rows"] = nlohmann::json::array();
  for (const ReportRow& r : rows) {
    nlohmann::json row = {{"model", r.model},
                          {"stage_index", r.stage_index},
                          {"stage", r.stage},
                          {"action", r.action},
                          {"metric", r.metric},
                          {"deviation", r.deviation},
                          {"value", json_number(r.value)},
                          {"normalised", json_number(r.normalised)}};
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
  // One chart per (metric, deviation) of the G-EED across stages, and one of the normalised G-EED
  // where any row has it; a line per model, gaps where a model has no value at a stage. Log scale:
  // the values span float rounding (1e-15) to 1.
  std::map<int64_t, std::string> stage_names;
  std::vector<std::string> models;
  for (const ReportRow& r : rows) {
    stage_names.emplace(r.stage_index, r.stage);
    if (std::find(models.begin(), models.end(), r.model) == models.end()) models.push_back(r.model);
  }
  std::map<int64_t, size_t> position;
  LineChart axes;
  for (const auto& [index, name] : stage_names) {
    position[index] = axes.x.size();
    axes.x.push_back(static_cast<double>(index));
    axes.x_labels.push_back(name);
  }
  axes.x_title = "stage (in the order of the forward pass)";
  axes.log_y = true;
  std::map<std::pair<std::string, std::string>, std::pair<LineChart, LineChart>> charts;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const ReportRow& r : rows) {
    auto key = std::make_pair(r.metric, r.deviation);
    auto it = charts.find(key);
    if (it == charts.end()) {
      LineChart raw = axes, normalised = axes;
      raw.title = r.metric + " (" + r.deviation + ")";
      raw.y_title = "G-EED";
      normalised.title = r.metric + " (" + r.deviation + ", normalised*)";
      normalised.y_title = "normalised G-EED";
      for (const std::string& m : models) {
        raw.series.push_back({m, std::vector<double>(axes.x.size(), nan)});
        normalised.series.push_back({m, std::vector<double>(axes.x.size(), nan)});
      }
      it = charts.emplace(key, std::make_pair(raw, normalised)).first;
    }
    const size_t m =
        static_cast<size_t>(std::find(models.begin(), models.end(), r.model) - models.begin());
    it->second.first.series[m].y[position[r.stage_index]] = r.value;
    it->second.second.series[m].y[position[r.stage_index]] = r.normalised;
  }
  std::ostringstream os;
  os << "<h2>" << escape_html(heading) << "</h2><p>G-EED metrics (Kvinge et al., NeurIPS 2022) per "
     << "stage: 0 means the stage is exactly invariant/equivariant to the transforms. " << samples
     << " samples, transforms: ";
  for (size_t i = 0; i < transforms.size(); ++i)
    os << (i ? ", " : "") << escape_html(transforms[i]);
  os << ". *normalised G-EED is eqnn's extension: G-EED divided by the mean deviation between "
     << "different inputs at the same stage (~1: the transforms move features as far as changing "
     << "the input does).</p><div class='charts'>";
  for (const auto& entry : charts) {
    os << entry.second.first.svg();
    const auto& normalised = entry.second.second.series;
    if (std::any_of(normalised.begin(), normalised.end(), [](const LineSeries& line) {
          return std::any_of(line.y.begin(), line.y.end(), [](double v) { return !std::isnan(v); });
        }))
      os << entry.second.second.svg();
  }
  os << "</div><details><summary>Table</summary><table><tr><th>model</th><th>stage</th>"
        "<th>action</th><th>metric</th><th>deviation</th><th>G-EED</th><th>normalised*</th></tr>";
  for (const ReportRow& r : rows)
    os << "<tr><td>" << escape_html(r.model) << "</td><td>" << escape_html(r.stage) << "</td><td>"
       << escape_html(r.action) << "</td><td>" << r.metric << "</td><td>" << r.deviation
       << "</td><td>" << number(r.value) << "</td><td>" << number(r.normalised) << "</td></tr>";
  os << "</table></details>";
  return os.str();
}

std::string Report::html_page(const std::string& title, const std::string& body) {
  std::ostringstream os;
  os << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>" << escape_html(title)
     << "</title><style>body{font-family:sans-serif;margin:2em;max-width:1400px}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
        ".charts{display:flex;flex-wrap:wrap;gap:12px}</style></head><body><h1>"
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
