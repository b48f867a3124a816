#include "list_args.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cctype>
#include <limits>

namespace eqnn_cli {

std::vector<std::string> split_list(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find(sep, begin), text.size());
    if (end > begin) out.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

int64_t parse_whole_number(const std::string& text, const std::string& option) {
  // By hand rather than std::stoll: no leading blanks or '+' accepted silently, no "stoll" in the
  // message, and overflow is reported as out of range.
  size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) i = 1;
  bool ok = i < text.size() && text.size() - i <= 19;
  uint64_t value = 0;
  for (; ok && i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    ok = std::isdigit(c) != 0;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  TORCH_CHECK(ok && value <= limit, "eqnn probe: ", option, " expects whole numbers, got '", text,
              "'");
  return negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
}

std::vector<int64_t> parse_stage_list(const std::string& text) {
  std::vector<int64_t> out;
  for (const std::string& item : split_list(text, ',')) {
    out.push_back(parse_whole_number(item, "--stages"));
    TORCH_CHECK(out.back() >= 0, "eqnn probe: --stages expects stage indices >= 0, got '", item,
                "'");
  }
  return out;
}

std::vector<std::pair<int64_t, int64_t>> parse_shift_list(const std::string& text) {
  constexpr int64_t kMaxShift = int64_t{1} << 20;
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const std::string& pair : split_list(text, ';')) {
    const std::vector<std::string> parts = split_list(pair, ',');
    TORCH_CHECK(parts.size() == 2, "eqnn probe: --shifts expects 'rows,cols;rows,cols', got '",
                pair, "' in '", text, "'");
    const int64_t rows = parse_whole_number(parts[0], "--shifts");
    const int64_t cols = parse_whole_number(parts[1], "--shifts");
    TORCH_CHECK(rows >= -kMaxShift && rows <= kMaxShift && cols >= -kMaxShift && cols <= kMaxShift,
                "eqnn probe: --shifts expects shifts in [-", kMaxShift, ", ", kMaxShift, "], got '",
                pair, "'");
    out.emplace_back(rows, cols);
  }
  return out;
}

std::map<std::string, eqnn::probe::LatentAction> parse_action_list(const std::string& text) {
  std::map<std::string, eqnn::probe::LatentAction> out;
  for (const std::string& item : split_list(text, ',')) {
    const size_t eq = item.find('=');
    TORCH_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < item.size(),
                "eqnn probe: --action expects 'module=action,...' (e.g. ",
                "layer1=regular:p4,fc=invariant), got '", item, "'");
    const std::string name = item.substr(0, eq);
    TORCH_CHECK(out.count(name) == 0, "eqnn probe: --action names '", name, "' twice");
    out.emplace(name, eqnn::probe::parse_latent_action(item.substr(eq + 1)));
  }
  return out;
}

std::vector<eqnn::probe::Metric> parse_metric_list(const std::string& text) {
  std::vector<eqnn::probe::Metric> out;
  for (const std::string& item : split_list(text, ','))
    out.push_back(eqnn::probe::metric_from_name(item));
  TORCH_CHECK(!out.empty(), "eqnn probe: --metrics expects at least one of equivariance, ",
              "invariance and output, got '", text, "'");
  return out;
}

MetricSelection parse_metric_selection(const std::string& text) {
  MetricSelection out;
  std::string geed;
  for (const std::string& item : split_list(text, ',')) {
    std::string key = item;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (key == "fitted" || key == "fitted_actions")
      out.fitted = true;
    else if (key == "lie" || key == "lie_derivative")
      out.lie = true;
    else
      geed += (geed.empty() ? "" : ",") + item;
  }
  if (!geed.empty() || !(out.fitted || out.lie)) {
    try {
      out.geed = parse_metric_list(geed);
    } catch (const c10::Error& e) {
      TORCH_CHECK(false, "eqnn probe: --metrics expects equivariance, invariance, output, fitted ",
                  "and/or lie, got '", text, "'");
    }
  }
  return out;
}

std::vector<eqnn::probe::Deviation> parse_deviation_list(const std::string& text) {
  std::vector<eqnn::probe::Deviation> out;
  for (const std::string& item : split_list(text, ',')) {
    out.push_back(eqnn::probe::deviation_from_name(item));
    TORCH_CHECK(out.back() != eqnn::probe::Deviation::KL,
                "eqnn probe: --deviations kl is only meaningful between probability vectors; the "
                "latent metrics take cosine or euclidean (the output metric always uses KL)");
  }
  TORCH_CHECK(!out.empty(), "eqnn probe: --deviations expects cosine and/or euclidean, got '", text,
              "'");
  return out;
}

}  // namespace eqnn_cli
