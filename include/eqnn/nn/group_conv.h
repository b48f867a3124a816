// Group convolution G -> G: regular fields to regular fields.
#pragma once

#include <torch/nn/pimpl.h>

#include "eqnn/group.h"
#include "eqnn/nn/conv_base.h"
#include "eqnn/nn/conv_options.h"

namespace eqnn {

struct GroupConv2dOptions {
  GroupConv2dOptions(Group group, int64_t in_fields, int64_t out_fields, int64_t kernel_size)
      : group_(std::move(group)),
        in_fields_(in_fields),
        out_fields_(out_fields),
        kernel_size_(kernel_size) {}

  TORCH_ARG(Group, group);
  TORCH_ARG(int64_t, in_fields);
  TORCH_ARG(int64_t, out_fields);
  TORCH_ARG(int64_t, kernel_size);
  EQNN_CONV2D_COMMON_ARGS;
};

/// y[:, o*|G| + t] = sum_{i,s} (L_{h_t} w[o, i, idx(h_t^-1 h_s)]) * x[:, i*|G| + s] + b[o].
/// Parameters: weight (out_fields, in_fields, |G|, k, k), bias (out_fields).
class GroupConv2dImpl : public detail::EquivariantConv2dBase<GroupConv2dImpl, GroupConv2dOptions> {
 public:
  GroupConv2dImpl(Group group, int64_t in_fields, int64_t out_fields, int64_t kernel_size)
      : GroupConv2dImpl(GroupConv2dOptions(std::move(group), in_fields, out_fields, kernel_size)) {}
  explicit GroupConv2dImpl(GroupConv2dOptions options);

  /// Declared here (not only in the base) so that &GroupConv2dImpl::forward names this class, as
  /// torch::nn::AnyModule and Sequential::ptr<T>() require.
  torch::Tensor forward(const torch::Tensor& input) {
    return EquivariantConv2dBase::forward(input);
  }

  FieldType in_type() const override;

  // Hooks for EquivariantConv2dBase.
  static constexpr const char* kName = "eqnn::GroupConv2d";
  static int64_t in_count(const GroupConv2dOptions& o) { return o.in_fields(); }
  static std::vector<int64_t> weight_shape(const GroupConv2dOptions& o);
  static int64_t fan_in(const GroupConv2dOptions& o);
  static torch::Tensor expand(const torch::Tensor& weight, const Group& group);
};

TORCH_MODULE(GroupConv2d);

}  // namespace eqnn
