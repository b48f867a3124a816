/// \file
/// Lifting convolution Z2 -> G: trivial input channels to regular G fields.
#pragma once

#include <torch/nn/pimpl.h>

#include "eqnn/group.h"
#include "eqnn/nn/conv_base.h"
#include "eqnn/nn/conv_options.h"

namespace eqnn {

/// Options of LiftingConv2d.
struct LiftingConv2dOptions {
  /// The four options without a default.
  LiftingConv2dOptions(Group group, int64_t in_channels, int64_t out_fields, int64_t kernel_size)
      : group_(std::move(group)),
        in_channels_(in_channels),
        out_fields_(out_fields),
        kernel_size_(kernel_size) {}

  /// The group the output fields are regular over.
  TORCH_ARG(Group, group);
  /// Channels of the input (trivial fields: the group moves the plane only).
  TORCH_ARG(int64_t, in_channels);
  /// Regular fields of the output (out_fields * |G| channels).
  TORCH_ARG(int64_t, out_fields);
  /// Height = width of the filters (odd or even).
  TORCH_ARG(int64_t, kernel_size);
  /// \name Common convolution arguments
  /// @{

  /// stride, padding, dilation, bias, padding_mode, strict and channels_last, as for every eqnn
  /// convolution (EQNN_CONV2D_COMMON_ARGS).
  EQNN_CONV2D_COMMON_ARGS;
  /// @}
};

/// y[:, o*|G| + t] = (L_{h_t} w[o]) * x + b[o]  (cross-correlation, conventions.md).
/// Parameters: weight (out_fields, in_channels, k, k), bias (out_fields).
class LiftingConv2dImpl
    : public detail::EquivariantConv2dBase<LiftingConv2dImpl, LiftingConv2dOptions> {
 public:
  /// The other options at their defaults.
  LiftingConv2dImpl(Group group, int64_t in_channels, int64_t out_fields, int64_t kernel_size)
      : LiftingConv2dImpl(
            LiftingConv2dOptions(std::move(group), in_channels, out_fields, kernel_size)) {}
  /// Builds the layer (reset(): validates the options, creates and initialises the parameters).
  explicit LiftingConv2dImpl(LiftingConv2dOptions options);

  /// Declared here (not only in the base) so that &LiftingConv2dImpl::forward names this class, as
  /// torch::nn::AnyModule and Sequential::ptr<T>() require.
  torch::Tensor forward(const torch::Tensor& input) {
    return EquivariantConv2dBase::forward(input);
  }

  FieldType in_type() const override;  ///< in_channels trivial fields

  // Hooks for EquivariantConv2dBase.
  /// The layer's name in messages and pretty_print.
  static constexpr const char* kName = "eqnn::LiftingConv2d";
  /// Input channels: in_channels.
  static int64_t in_count(const LiftingConv2dOptions& o) { return o.in_channels(); }
  /// (out_fields, in_channels, k, k).
  static std::vector<int64_t> weight_shape(const LiftingConv2dOptions& o);
  /// in_channels * k * k.
  static int64_t fan_in(const LiftingConv2dOptions& o);
  /// ops::expand_lifting_filter.
  static torch::Tensor expand(const torch::Tensor& weight, const Group& group);
};

/// The module holder of LiftingConv2dImpl: `LiftingConv2d(LiftingConv2dOptions(group, 1, 8, 3))`.
TORCH_MODULE(LiftingConv2d);

}  // namespace eqnn
