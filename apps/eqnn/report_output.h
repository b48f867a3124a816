// How eqnn probe and eqnn report show a probe report (internal to the app): the table on stdout in
// the chosen format, and probe.{csv,json,html} in an output directory.
#pragma once

#include <string>

#include "eqnn/probe/report.h"

namespace eqnn_cli {

/// The report on stdout as "text" (aligned table), "csv" or "json".
void print_report(const eqnn::probe::Report& report, const std::string& format);

/// Writes dir/probe.csv, dir/probe.json and dir/probe.html (titled `title`), each atomically, and
/// says so on stderr.
void write_report_files(const eqnn::probe::Report& report, const std::string& dir,
                        const std::string& title);

/// The provenance entries of a file: its path and SHA-256, under `key` and `key`_sha256.
void add_file_provenance(eqnn::probe::Provenance& provenance, const std::string& key,
                         const std::string& path);

}  // namespace eqnn_cli
