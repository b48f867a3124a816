#include "table.h"

#include <algorithm>
#include <cstdio>

namespace eqnn_cli {

void Table::print(std::ostream& os) const {
  std::vector<size_t> width(header_.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  };
  widen(header_);
  for (const auto& row : rows_)
    widen(row);
  auto line = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      os << cell << std::string(width[c] - cell.size() + (c + 1 < width.size() ? 2 : 0), ' ');
    }
    os << '\n';
  };
  line(header_);
  size_t total = 0;
  for (size_t w : width)
    total += w + 2;
  os << std::string(total > 2 ? total - 2 : total, '-') << '\n';
  for (const auto& row : rows_)
    line(row);
}

std::string format_scientific(double value, int precision) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.*e", precision, value);
  return buffer;
}

}  // namespace eqnn_cli
