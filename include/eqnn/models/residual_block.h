/// \file
/// An equivariant residual block (He et al. 2016's basic block on regular fields): two group
/// convolutions with group batch norm and ReLU on the main branch, and a 1x1 group convolution +
/// group batch norm on the skip branch when the width or the stride changes:
///
///     y = ReLU( GBN(GConv_k(ReLU(GBN(GConv_k,stride(x))))) + skip(x) ),
///     skip = identity, or GBN(GConv_1x1,stride(x)).
///
/// Every part is equivariant with regular fields and the sum of equivariant maps is equivariant,
/// so the block is. With stride 2, exactness needs a sampling grid symmetric about the centre:
/// (H - 1) % 2 == 0 for the 1x1 skip, i.e. odd sizes (the layers check it).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"
#include "eqnn/nn/group_batch_norm.h"
#include "eqnn/nn/group_conv.h"

namespace eqnn {
namespace models {

/// Options of ResidualBlock.
struct ResidualBlockOptions {
  /// The three options without a default.
  ResidualBlockOptions(Group group, int64_t in_fields, int64_t out_fields)
      : group_(std::move(group)), in_fields_(in_fields), out_fields_(out_fields) {}

  /// The group of every layer in the block.
  TORCH_ARG(Group, group);
  /// Regular fields of the input.
  TORCH_ARG(int64_t, in_fields);
  /// Regular fields of the output (and of the main branch).
  TORCH_ARG(int64_t, out_fields);
  /// Stride of the first convolution and of the skip branch.
  TORCH_ARG(int64_t, stride) = 1;
  /// Kernel size of the two main-branch convolutions (odd; "same" padding).
  TORCH_ARG(int64_t, kernel_size) = 3;
};

/// The residual block of this file's description: (B, in_fields * |G|, H, W) ->
/// (B, out_fields * |G|, H', W') with H' = (H - 1) / stride + 1. Submodules conv1, bn1, conv2,
/// bn2 and, when the width or the stride changes, downsample.
class ResidualBlockImpl : public torch::nn::Cloneable<ResidualBlockImpl>, public EquivariantModule {
 public:
  /// Stride 1, kernel size 3.
  ResidualBlockImpl(Group group, int64_t in_fields, int64_t out_fields)
      : ResidualBlockImpl(ResidualBlockOptions(std::move(group), in_fields, out_fields)) {}
  /// Builds the block (reset()).
  explicit ResidualBlockImpl(ResidualBlockOptions options);

  /// Validates the options and (re)creates the submodules. Throws unless the field counts are
  /// positive, stride >= 1 and kernel_size is odd.
  void reset() override;
  /// Throws, naming the block, unless input has in_fields regular fields; reports its output to
  /// the probe's observer (eqnn/nn/output_observer.h).
  torch::Tensor forward(const torch::Tensor& input);
  /// "eqnn::models::ResidualBlock(D4 (p4m), 4 -> 8 fields, kernel_size=3, stride=1)".
  void pretty_print(std::ostream& stream) const override;

  FieldType in_type() const override;   ///< in_fields regular fields
  FieldType out_type() const override;  ///< out_fields regular fields
  /// A plain-LibTorch residual module (models::PlainResidual) with the exported branches.
  torch::nn::Sequential export_module() const override;

  ResidualBlockOptions options;  ///< the options the block was built with
  /// The main branch's first convolution (the block's stride; "same" padding, no bias).
  GroupConv2d conv1{nullptr}, conv2{nullptr};  ///< conv2: the second (stride 1)
  /// The batch norm after conv1.
  GroupBatchNorm2d bn1{nullptr}, bn2{nullptr};  ///< bn2: the batch norm after conv2
  /// Empty when the block keeps width and size (the skip branch is the identity).
  torch::nn::Sequential downsample{nullptr};
};
/// The module holder of ResidualBlockImpl (`ResidualBlock(group, in, out)`).
TORCH_MODULE(ResidualBlock);

/// ReLU(main(x) + skip(x)) with plain LibTorch branches (skip empty: the identity): the export
/// of ResidualBlock.
class PlainResidualImpl : public torch::nn::Cloneable<PlainResidualImpl> {
 public:
  /// Registers deep copies of the two branches.
  PlainResidualImpl(torch::nn::Sequential main, torch::nn::Sequential skip);
  /// Replaces the branches by deep copies of themselves (so that clone() is deep).
  void reset() override;
  /// ReLU(main(input) + skip(input)), or ReLU(main(input) + input) when skip is empty.
  torch::Tensor forward(const torch::Tensor& input);

  /// The main branch.
  torch::nn::Sequential main{nullptr}, skip{nullptr};  ///< skip: the skip branch (empty: identity)
};
/// The module holder of PlainResidualImpl.
TORCH_MODULE(PlainResidual);

}  // namespace models
}  // namespace eqnn
