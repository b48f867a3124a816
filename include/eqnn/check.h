/// \file
/// Exact equivariance checks (docs/metrics.md, section 1): for every element g of the group,
/// compare f(g.x) with g.f(x) under the module's input and output field types.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eqnn/field.h"
#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

/// Tolerances of docs/conventions.md on the normalised error max|f(gx) - g f(x)| / max(1,
/// max|f(x)|): float64 1e-10; float32 1e-5 for a single layer and 1e-4 for a network;
/// float16/bfloat16 1e-2.
double default_tolerance(torch::ScalarType dtype, bool single_layer);

/// The error of one group element g: f(g.x) against g.f(x).
struct ElementError {
  int64_t element = 0;       ///< index in the group
  std::string name;          ///< e.g. "MR^2"
  double max_abs_error = 0;  ///< max |f(g.x) - g.f(x)| over all entries
  double error = 0;  ///< max_abs_error / max(1, output_scale): what is compared to the tolerance
  double rms_error = 0;  ///< sqrt(mean (f(gx) - g f(x))^2)
  /// True for an element off the grid (Group::on_grid): its action on planes interpolates, so its
  /// error includes interpolation error and is judged against interpolated_tolerance.
  bool interpolated = false;
};

/// The result of an equivariance check: the error of every group element and the verdict.
struct EquivarianceReport {
  Group group;                              ///< the group whose elements were applied
  FieldType in_type;                        ///< how the group acts on the input
  FieldType out_type;                       ///< how the group acts on the output
  torch::ScalarType dtype = torch::kFloat;  ///< dtype of the input the check ran on
  double output_scale = 0;                  ///< max |f(x)|
  double tolerance = 0;                     ///< the bound on ElementError::error for passed()
  /// The bound for the interpolated elements (groups with rotations off the grid, e.g. C8's 45
  /// degrees). Their error depends on how smooth the input is, so no default can judge them: it is
  /// infinite (reported, labelled, not judged) unless set.
  double interpolated_tolerance = std::numeric_limits<double>::infinity();
  std::vector<ElementError> elements;  ///< one per group element, identity first

  /// The exact (not interpolated) element with the largest error. Throws for an empty report.
  const ElementError& worst() const;
  /// The largest normalised error over the interpolated elements; 0 when there are none.
  double max_interpolated_error() const;
  /// The largest normalised error (ElementError::error) over the exact elements.
  double max_error() const { return worst().error; }
  /// The name of the worst element, e.g. "MR^2".
  const std::string& worst_element() const { return worst().name; }
  /// True when every exact element's error is within the tolerance and every interpolated
  /// element's within interpolated_tolerance.
  bool passed() const {
    return max_error() <= tolerance && max_interpolated_error() <= interpolated_tolerance;
  }
  /// A one-line verdict followed by one line per element.
  std::string str() const;
};

/// The core check: runs fn on input and on every transformed input (no gradients), in the module's
/// current mode. tolerance <= 0 picks default_tolerance(input dtype, single_layer). The output's
/// group may be a subgroup of the input's (RestrictFields, CosetPool): then the subgroup's
/// elements are checked, acting on the input as the elements they embed as (Group::embed).
EquivarianceReport check_equivariance(const std::function<torch::Tensor(const torch::Tensor&)>& fn,
                                      const FieldType& in_type, const FieldType& out_type,
                                      const torch::Tensor& input, double tolerance = 0,
                                      bool single_layer = false);

/// Field types through a Sequential: its input, and the output of each child.
struct SequentialTypes {
  FieldType input;                 ///< the type of the first child's input
  std::vector<FieldType> outputs;  ///< one per child
};

/// Field types through a Sequential of eqnn modules and type-preserving torch modules (pointwise
/// activations, Flatten, Dropout in eval mode; Linear and Softmax on invariant features). Throws,
/// naming the child, when a child's action cannot be inferred.
SequentialTypes infer_field_types(const torch::nn::SequentialImpl& sequential);

/// A whole Sequential, with the types from infer_field_types and the network tolerance.
EquivarianceReport check_equivariance(const torch::nn::Sequential& sequential,
                                      const torch::Tensor& input, double tolerance = 0);

/// The check of one stage of a Sequential (check_equivariance_per_stage).
struct StageReport {
  std::string name;           ///< "3: eqnn::GroupConv2d"
  EquivarianceReport report;  ///< the stage's output against its inferred type
};

/// The output of every child of the Sequential checked against its inferred type (one pass of the
/// network per group element). The last entry is the whole network.
std::vector<StageReport> check_equivariance_per_stage(const torch::nn::Sequential& sequential,
                                                      const torch::Tensor& input,
                                                      double tolerance = 0);

/// A single eqnn layer (any module holder whose module implements EquivariantModule), with the
/// single-layer tolerance.
template <typename ModuleType,
          typename = std::enable_if_t<std::is_base_of<EquivariantModule, ModuleType>::value>>
EquivarianceReport check_equivariance(const torch::nn::ModuleHolder<ModuleType>& module,
                                      const torch::Tensor& input, double tolerance = 0) {
  std::shared_ptr<ModuleType> impl = module.ptr();
  return check_equivariance([impl](const torch::Tensor& x) { return impl->forward(x); },
                            impl->in_type(), impl->out_type(), input, tolerance,
                            /*single_layer=*/true);
}

}  // namespace eqnn
