// The library's self-check: every layer (and the example network) for every group, checked on every
// group element in float32 and float64 with odd and even input sizes. `eqnn check` prints it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "eqnn/check.h"
#include "eqnn/group.h"

namespace eqnn {

struct SelfCheckOptions {
  std::vector<Group> groups = Group::all();
  std::vector<torch::ScalarType> dtypes = {torch::kFloat, torch::kDouble};
  /// Odd and even input sizes.
  std::vector<int64_t> sizes = {9, 8};
  int64_t batch = 2;
  uint64_t seed = 0;
};

/// One layer configuration for one group and dtype, over all sizes: the worst report of them.
struct SelfCheckResult {
  std::string group;
  std::string layer;
  torch::ScalarType dtype;
  int64_t worst_size = 0;
  EquivarianceReport worst;  ///< the report with the largest error over the sizes
};

/// Runs the self-check. on_result (optional) is called after each result, e.g. to show progress.
std::vector<SelfCheckResult> run_self_check(
    const SelfCheckOptions& options,
    const std::function<void(const SelfCheckResult&)>& on_result = nullptr);

/// Names of the layer configurations the self-check builds, in order.
std::vector<std::string> self_check_layers();

}  // namespace eqnn
