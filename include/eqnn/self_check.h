/// \file
/// The library's self-check, which `eqnn check` prints: every layer (and the example network) for
/// every group, checked on every group element in float32 and float64 with odd and even sizes.
#pragma once

#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "eqnn/check.h"
#include "eqnn/group.h"

namespace eqnn {

/// What run_self_check covers.
struct SelfCheckOptions {
  std::vector<Group> groups = Group::all();  ///< the groups to build every layer for
  /// The dtypes to check in, each with its default tolerance.
  std::vector<torch::ScalarType> dtypes = {torch::kFloat, torch::kDouble};
  /// Odd and even input sizes.
  std::vector<int64_t> sizes = {9, 8};
  int64_t batch = 2;  ///< batch size of the random inputs
  uint64_t seed = 0;  ///< seed of torch::manual_seed (inputs and parameters)
  /// Where the layers run (the inputs are drawn on the CPU and moved, so every device sees the
  /// same numbers).
  torch::Device device = torch::kCPU;
};

/// One layer configuration for one group and dtype, over all sizes: the worst report of them.
struct SelfCheckResult {
  std::string group;         ///< the group's name, e.g. "D4"
  std::string layer;         ///< the configuration, one of self_check_layers()
  torch::ScalarType dtype;   ///< the dtype it ran in
  int64_t worst_size = 0;    ///< the input size of `worst`
  EquivarianceReport worst;  ///< the report with the largest error over the sizes
};

/// Runs the self-check: one result per (group, layer, dtype), in that nesting order, the worst of
/// the sizes relative to the tolerance. on_result (optional) is called after each result, e.g. to
/// show progress. Throws for empty groups, dtypes or sizes, or a size below 2.
std::vector<SelfCheckResult> run_self_check(
    const SelfCheckOptions& options,
    const std::function<void(const SelfCheckResult&)>& on_result = nullptr);

/// Names of the layer configurations the self-check builds, in order.
std::vector<std::string> self_check_layers();

}  // namespace eqnn
