// A plain-text table for the command-line program.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace eqnn_cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  /// Columns padded to their widest cell, a rule under the header.
  void print(std::ostream& os) const;
  const std::vector<std::string>& header() const { return header_; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

/// "1.23e-07"
std::string format_scientific(double value, int precision = 2);

}  // namespace eqnn_cli
