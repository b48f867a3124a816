#include "report_output.h"

#include <iostream>

#include "cli.h"
#include "eqnn/data/sha256.h"

namespace eqnn_cli {

void print_report(const eqnn::probe::Report& report, const std::string& format) {
  if (format == "csv")
    std::cout << report.csv();
  else if (format == "json")
    std::cout << report.json() << "\n";
  else
    std::cout << report.text();
}

void write_report_files(const eqnn::probe::Report& report, const std::string& dir,
                        const std::string& title) {
  InterruptGuard finish_writing;  // Ctrl-C waits for the three files to be in place
  eqnn::probe::Report::write_file(dir + "/probe.csv", report.csv());
  eqnn::probe::Report::write_file(dir + "/probe.json", report.json());
  eqnn::probe::Report::write_file(dir + "/probe.html", report.html(title));
  std::cerr << "wrote " << dir << "/probe.{csv,json,html}\n";
}

void add_file_provenance(eqnn::probe::Provenance& provenance, const std::string& key,
                         const std::string& path) {
  provenance[key] = path;
  provenance[key + "_sha256"] = eqnn::data::file_sha256(path);
}

}  // namespace eqnn_cli
