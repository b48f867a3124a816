// Lifting convolution Z2 -> G: trivial input channels to regular G fields.
#pragma once

#include <torch/nn/pimpl.h>

#include "eqnn/group.h"
#include "eqnn/nn/conv_base.h"
#include "eqnn/nn/conv_options.h"

namespace eqnn {

struct LiftingConv2dOptions {
  LiftingConv2dOptions(Group group, int64_t in_channels, int64_t out_fields, int64_t kernel_size)
      : group_(std::move(group)),
        in_channels_(in_channels),
        out_fields_(out_fields),
        kernel_size_(kernel_size) {}

  TORCH_ARG(Group, group);
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_fields);
  TORCH_ARG(int64_t, kernel_size);
  EQNN_CONV2D_COMMON_ARGS;
};

/// y[:, o*|G| + t] = (L_{h_t} w[o]) * x + b[o]  (cross-correlation, conventions.md).
/// Parameters: weight (out_fields, in_channels, k, k), bias (out_fields).
class LiftingConv2dImpl
    : public detail::EquivariantConv2dBase<LiftingConv2dImpl, LiftingConv2dOptions> {
 public:
  LiftingConv2dImpl(Group group, int64_t in_channels, int64_t out_fields, int64_t kernel_size)
      : LiftingConv2dImpl(
            LiftingConv2dOptions(std::move(group), in_channels, out_fields, kernel_size)) {}
  explicit LiftingConv2dImpl(LiftingConv2dOptions options);

  /// Declared here (not only in the base) so that &LiftingConv2dImpl::forward names this class, as
  /// torch::nn::AnyModule and Sequential::ptr<T>() require.
  torch::Tensor forward(const torch::Tensor& input) {
    return EquivariantConv2dBase::forward(input);
  }

  FieldType in_type() const override;

  // Hooks for EquivariantConv2dBase.
  static constexpr const char* kName = "eqnn::LiftingConv2d";
  static int64_t in_count(const LiftingConv2dOptions& o) { return o.in_channels(); }
  static std::vector<int64_t> weight_shape(const LiftingConv2dOptions& o);
  static int64_t fan_in(const LiftingConv2dOptions& o);
  static torch::Tensor expand(const torch::Tensor& weight, const Group& group);
};

TORCH_MODULE(LiftingConv2d);

}  // namespace eqnn
