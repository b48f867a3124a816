// eqnn report: merges the probe.json files of earlier runs (other models, checkpoints of several
// epochs) into one report: one line per model on every chart, one table.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "arg_checks.h"
#include "cli.h"
#include "commands.h"
#include "eqnn/probe/report.h"
#include "report_output.h"

namespace eqnn_cli {
namespace {

constexpr const char* kReportWho = "eqnn report";

struct ReportArgs {
  std::vector<std::string> inputs;
  std::string out;
  std::string format = "text";
};

eqnn::probe::Report read_report(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) throw UsageError(std::string(kReportWho) + ": cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return eqnn::probe::Report::from_json(text.str());
  } catch (const c10::Error& e) {
    throw std::runtime_error(std::string(kReportWho) + ": '" + path +
                             "': " + e.what_without_backtrace());
  }
}

/// Gives the rows (and provenance) of `model` in `report` the name `name`.
void rename_model(eqnn::probe::Report& report, const std::string& model, const std::string& name) {
  for (eqnn::probe::ReportRow& r : report.rows)
    if (r.model == model) r.model = name;
  auto node = report.provenance.extract(model);
  if (!node.empty()) {
    node.key() = name;
    report.provenance.insert(std::move(node));
  }
}

}  // namespace

Command add_report_command(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  CLI::App* sub = app.add_subcommand(
      "report", "Merge probe.json files of earlier runs into one report (a line per model)");
  sub->add_option("reports", a->inputs, "probe.json files written by eqnn probe (or report)")
      ->required();
  sub->add_option("-o,--out", a->out, "Directory for the merged probe.csv, probe.json, probe.html");
  sub->add_option("--format", a->format, "Format of the table on stdout: text, csv or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "csv", "json"}));

  return [a] {
    if (!a->out.empty()) prepare_output_directory(a->out, "--out", kReportWho);
    eqnn::probe::Report merged;
    std::set<std::string> taken;
    for (const std::string& path : a->inputs) {
      eqnn::probe::Report report = read_report(path);
      if (!merged.rows.empty() && report.transforms != merged.transforms)
        throw UsageError(std::string(kReportWho) + ": '" + path +
                         "' was probed under other transforms than the reports before it");
      // A model already taken (two runs of one checkpoint name) is named after its folder, then
      // numbered.
      std::vector<std::string> models;
      for (const auto& r : report.rows)
        if (std::find(models.begin(), models.end(), r.model) == models.end())
          models.push_back(r.model);
      for (const std::string& model : models) {
        std::string name = model;
        if (taken.count(name)) {
          const std::string folder = std::filesystem::path(path).parent_path().filename().string();
          name = (folder.empty() ? std::string(".") : folder) + "/" + model;
          for (int k = 2; taken.count(name); ++k)
            name = model + " #" + std::to_string(k);
          rename_model(report, model, name);
        }
        taken.insert(name);
        report.provenance[name]["report_file"] = path;
      }
      merged.merge(report);
    }
    std::cerr << "merged " << a->inputs.size() << " reports: " << taken.size() << " models, "
              << merged.rows.size() << " rows\n";
    print_report(merged, a->format);
    if (!a->out.empty()) write_report_files(merged, a->out, "eqnn report");
    return 0;
  };
}

}  // namespace eqnn_cli
