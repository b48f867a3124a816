// Group convolution G -> G: regular fields to regular fields.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/group.h"
#include "eqnn/nn/conv_options.h"
#include "eqnn/nn/equivariant_module.h"

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
class GroupConv2dImpl : public torch::nn::Cloneable<GroupConv2dImpl>, public EquivariantModule {
 public:
  GroupConv2dImpl(Group group, int64_t in_fields, int64_t out_fields, int64_t kernel_size)
      : GroupConv2dImpl(GroupConv2dOptions(std::move(group), in_fields, out_fields, kernel_size)) {}
  explicit GroupConv2dImpl(GroupConv2dOptions options);

  void reset() override;
  /// He initialisation for the expanded fan-in (in_fields * |G| * k * k); zero bias.
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  /// input: (B, in_fields * |G|, H, W) -> (B, out_fields * |G|, H', W').
  torch::Tensor forward(const torch::Tensor& input);

  /// The filter bank a plain conv2d would use: (out_fields * |G|, in_fields * |G|, k, k).
  torch::Tensor expanded_weight() const;
  torch::Tensor expanded_bias() const;

  FieldType in_type() const override;
  FieldType out_type() const override;

  GroupConv2dOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
};

TORCH_MODULE(GroupConv2d);

}  // namespace eqnn
