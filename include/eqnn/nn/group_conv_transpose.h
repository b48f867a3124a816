/// \file
/// Transposed group convolution G -> G (learned upsampling of regular fields).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"
#include "eqnn/nn/group_conv.h"

namespace eqnn {

/// Options of GroupConvTranspose2d.
struct GroupConvTranspose2dOptions {
  /// The four options without a default.
  GroupConvTranspose2dOptions(Group group, int64_t in_fields, int64_t out_fields,
                              int64_t kernel_size)
      : group_(std::move(group)),
        in_fields_(in_fields),
        out_fields_(out_fields),
        kernel_size_(kernel_size) {}
  /// The group the input and output fields are regular over.
  TORCH_ARG(Group, group);
  /// Regular fields of the input.
  TORCH_ARG(int64_t, in_fields);
  /// Regular fields of the output.
  TORCH_ARG(int64_t, out_fields);
  /// Height = width of the filters (odd or even).
  TORCH_ARG(int64_t, kernel_size);
  /// The upsampling factor.
  TORCH_ARG(int64_t, stride) = 1;
  /// Removed from each border of the full output, as in torch::conv_transpose2d.
  TORCH_ARG(int64_t, padding) = 0;
  /// One bias per output field.
  TORCH_ARG(bool, bias) = true;
  /// Pixel or steerable filters (FilterBasis; Auto picks by group).
  TORCH_ARG(FilterBasis, basis) = FilterBasis::Auto;
};

/// The adjoint of a GroupConv2d from out_fields to in_fields, plus a bias per output field:
/// y = conv_transpose2d(x, tw, b, stride, padding) with tw the expanded filter bank of that
/// convolution ((in_fields * |G|, out_fields * |G|, k, k) is conv_transpose2d's weight layout).
/// The adjoint of an equivariant map between permutation representations is equivariant, and
/// since the full output of a transposed convolution is the adjoint of a convolution whose sampling
/// grid is symmetric ((H_out + 2 padding - k) = (H - 1) stride), it is exact for every input size
/// (no output_padding: padding one side would break the symmetry). Output size (H - 1) stride -
/// 2 padding + k. Rotations other than by 180 degrees need square inputs.
class GroupConvTranspose2dImpl : public torch::nn::Cloneable<GroupConvTranspose2dImpl>,
                                 public EquivariantModule {
 public:
  /// Builds the layer (reset()).
  explicit GroupConvTranspose2dImpl(GroupConvTranspose2dOptions options);

  /// Validates the options and creates the parameters: the adjoint convolution's (He
  /// initialisation for its fan-in, out_fields |G| k^2), and a zero bias.
  void reset() override;
  /// "eqnn::GroupConvTranspose2d(C8, 4 fields -> 2 fields, kernel_size=4, stride=2, padding=1)".
  void pretty_print(std::ostream& stream) const override;
  /// (B, in_fields * |G|, H, W) -> (B, out_fields * |G|, H', W').
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override;   ///< in_fields regular fields
  FieldType out_type() const override;  ///< out_fields regular fields
  /// A torch::nn::ConvTranspose2d holding the expanded filter bank and bias.
  torch::nn::Sequential export_module() const override;

  GroupConvTranspose2dOptions options;  ///< the options the layer was built with
  /// Holds the filters: a GroupConv2d from out_fields to in_fields (its weight; it has no bias).
  GroupConv2d adjoint{nullptr};
  torch::Tensor bias;  ///< (out_fields), or undefined without bias
};

/// The module holder of GroupConvTranspose2dImpl.
TORCH_MODULE(GroupConvTranspose2d);

}  // namespace eqnn
