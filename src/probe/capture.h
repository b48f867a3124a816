// What the model builders share (internal): choosing the probe points of a module tree, and the
// observer that turns module reports into a CaptureSink's calls.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "eqnn/probe/probed_model.h"

namespace eqnn {
namespace probe {
namespace detail {

/// Number of components of a qualified name ("layer2.0.conv1" -> 3).
int64_t name_depth(const std::string& name);

/// Whether the module `name` is selected by `options` (named, or within the depth).
bool selected(const CaptureOptions& options, const std::string& name);

/// Throws, naming the model and listing what exists, for a module name or declared action in
/// `options` that names no module of the model (`names`: every qualified name; "output" is
/// always valid for actions).
void check_names(const CaptureOptions& options, const std::vector<std::string>& names,
                 const std::string& model);

/// Maps reporting modules to their probe points and forwards reports to a sink. A point reported
/// twice in a row with the same tensor counts once (a module that reports itself inside a
/// Sequential the probe also reports).
class PointObserver : public OutputObserver {
 public:
  PointObserver(const std::unordered_map<const void*, int64_t>& points, const CaptureSink& sink)
      : points_(points), sink_(sink) {}
  void observe(const void* module, const torch::Tensor& output) override;
  /// Reports directly, with the same deduplication.
  void report(int64_t point, const torch::Tensor& output);

 private:
  const std::unordered_map<const void*, int64_t>& points_;
  const CaptureSink& sink_;
  int64_t last_point_ = -1;
  const void* last_tensor_ = nullptr;
};

}  // namespace detail
}  // namespace probe
}  // namespace eqnn
