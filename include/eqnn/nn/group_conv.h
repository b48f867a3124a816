/// \file
/// Group convolution G -> G: regular fields to regular fields.
#pragma once

#include <torch/nn/pimpl.h>

#include "eqnn/group.h"
#include "eqnn/nn/conv_base.h"
#include "eqnn/nn/conv_options.h"

namespace eqnn {

/// Options of GroupConv2d.
struct GroupConv2dOptions {
  /// The four options without a default.
  GroupConv2dOptions(Group group, int64_t in_fields, int64_t out_fields, int64_t kernel_size)
      : group_(std::move(group)),
        in_fields_(in_fields),
        out_fields_(out_fields),
        kernel_size_(kernel_size) {}

  /// The group the input and output fields are regular over.
  TORCH_ARG(Group, group);
  /// Regular fields of the input (in_fields * |G| channels).
  TORCH_ARG(int64_t, in_fields);
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

/// y[:, o*|G| + t] = sum_{i,s} (L_{h_t} w[o, i, idx(h_t^-1 h_s)]) * x[:, i*|G| + s] + b[o].
/// Parameters: weight (out_fields, in_fields, |G|, k, k), bias (out_fields).
class GroupConv2dImpl : public detail::EquivariantConv2dBase<GroupConv2dImpl, GroupConv2dOptions> {
 public:
  /// The other options at their defaults.
  GroupConv2dImpl(Group group, int64_t in_fields, int64_t out_fields, int64_t kernel_size)
      : GroupConv2dImpl(GroupConv2dOptions(std::move(group), in_fields, out_fields, kernel_size)) {}
  /// Builds the layer (reset(): validates the options, creates and initialises the parameters).
  explicit GroupConv2dImpl(GroupConv2dOptions options);

  /// Declared here (not only in the base) so that &GroupConv2dImpl::forward names this class, as
  /// torch::nn::AnyModule and Sequential::ptr<T>() require.
  torch::Tensor forward(const torch::Tensor& input) {
    return EquivariantConv2dBase::forward(input);
  }

  FieldType in_type() const override;  ///< in_fields regular fields

  // Hooks for EquivariantConv2dBase.
  /// The layer's name in messages and pretty_print.
  static constexpr const char* kName = "eqnn::GroupConv2d";
  /// Input fields: in_fields.
  static int64_t in_count(const GroupConv2dOptions& o) { return o.in_fields(); }
  /// (out_fields, in_fields, |G|, k, k).
  static std::vector<int64_t> weight_shape(const GroupConv2dOptions& o);
  /// in_fields * |G| * k * k.
  static int64_t fan_in(const GroupConv2dOptions& o);
  /// ops::expand_group_filter.
  static torch::Tensor expand(const torch::Tensor& weight, const Group& group);
};

/// The module holder of GroupConv2dImpl: `GroupConv2d(GroupConv2dOptions(group, 8, 16, 3))`.
TORCH_MODULE(GroupConv2d);

}  // namespace eqnn
