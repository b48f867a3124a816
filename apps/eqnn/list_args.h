// The program's list-valued options (internal to the app): `--stages 0,3,8`, `--shifts 1,0;0,2`,
// `--action layer1=regular:p4,fc=invariant`, `--metrics`, `--deviations`. Each parser either
// returns the whole list or throws one c10::Error that names the option, what it expects and the
// item it could not read; they are fuzzed (fuzz/fuzz_cli_lists.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "eqnn/probe/deviation.h"
#include "eqnn/probe/latent_action.h"
#include "eqnn/probe/probe.h"

namespace eqnn_cli {

/// The non-empty items of `text` between separators ("a,,b" gives a, b).
std::vector<std::string> split_list(const std::string& text, char sep);

/// A whole number in decimal (optional sign, nothing else), e.g. an item of `option`'s list.
int64_t parse_whole_number(const std::string& text, const std::string& option);

/// `--stages 0,3,8`: stage indices (>= 0; the probe checks the upper bound against the model).
std::vector<int64_t> parse_stage_list(const std::string& text);

/// `--shifts rows,cols;rows,cols`: cyclic shifts, each component in [-2^20, 2^20].
std::vector<std::pair<int64_t, int64_t>> parse_shift_list(const std::string& text);

/// `--action name=ACTION,...`: declared latent actions by qualified module name.
std::map<std::string, eqnn::probe::LatentAction> parse_action_list(const std::string& text);

/// `--metrics equivariance,invariance,output`.
std::vector<eqnn::probe::Metric> parse_metric_list(const std::string& text);

/// What `eqnn probe --metrics` asks for: run_probe's G-EED metrics, and the opt-in measures
/// ("fitted": learned latent actions, eqnn/probe/fitted_action.h; "lie": Lie derivatives).
struct MetricSelection {
  std::vector<eqnn::probe::Metric> geed;  ///< may be empty when an opt-in measure is given
  bool fitted = false;
  bool lie = false;  ///< "lie": Lie derivatives (eqnn/probe/lie_derivative.h)
};
/// `--metrics equivariance,invariance,output,fitted,lie` (at least one).
MetricSelection parse_metric_selection(const std::string& text);

/// `--deviations cosine,euclidean` (KL is refused: the latent metrics compare feature vectors,
/// not probability vectors; the output metric always uses KL).
std::vector<eqnn::probe::Deviation> parse_deviation_list(const std::string& text);

}  // namespace eqnn_cli
