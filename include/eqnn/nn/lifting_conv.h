// Lifting convolution Z2 -> G: trivial input channels to regular G fields.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/group.h"
#include "eqnn/nn/conv_options.h"
#include "eqnn/nn/equivariant_module.h"

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
class LiftingConv2dImpl : public torch::nn::Cloneable<LiftingConv2dImpl>, public EquivariantModule {
 public:
  LiftingConv2dImpl(Group group, int64_t in_channels, int64_t out_fields, int64_t kernel_size)
      : LiftingConv2dImpl(
            LiftingConv2dOptions(std::move(group), in_channels, out_fields, kernel_size)) {}
  explicit LiftingConv2dImpl(LiftingConv2dOptions options);

  void reset() override;
  /// He initialisation for the expanded fan-in (in_channels * k * k); zero bias.
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  /// input: (B, in_channels, H, W) -> (B, out_fields * |G|, H', W').
  torch::Tensor forward(const torch::Tensor& input);

  /// The filter bank a plain conv2d would use: (out_fields * |G|, in_channels, k, k).
  torch::Tensor expanded_weight() const;
  /// (out_fields * |G|), or an undefined tensor without bias.
  torch::Tensor expanded_bias() const;

  FieldType in_type() const override;
  FieldType out_type() const override;

  LiftingConv2dOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
};

TORCH_MODULE(LiftingConv2d);

}  // namespace eqnn
