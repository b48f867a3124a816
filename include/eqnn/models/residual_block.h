// An equivariant residual block (He et al. 2016's basic block on regular fields): two group
// convolutions with group batch norm and ReLU on the main branch, and a 1x1 group convolution +
// group batch norm on the skip branch when the width or the stride changes:
//   y = ReLU( GBN(GConv_k(ReLU(GBN(GConv_k,stride(x))))) + skip(x) ),
//   skip = identity, or GBN(GConv_1x1,stride(x)).
// Every part is equivariant with regular fields and the sum of equivariant maps is equivariant,
// so the block is. With stride 2, exactness needs a sampling grid symmetric about the centre:
// (H - 1) % 2 == 0 for the 1x1 skip, i.e. odd sizes (the layers check it).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"
#include "eqnn/nn/group_batch_norm.h"
#include "eqnn/nn/group_conv.h"

namespace eqnn {
namespace models {

struct ResidualBlockOptions {
  ResidualBlockOptions(Group group, int64_t in_fields, int64_t out_fields)
      : group_(std::move(group)), in_fields_(in_fields), out_fields_(out_fields) {}

  TORCH_ARG(Group, group);
  TORCH_ARG(int64_t, in_fields);
  TORCH_ARG(int64_t, out_fields);
  /// Stride of the first convolution and of the skip branch.
  TORCH_ARG(int64_t, stride) = 1;
  /// Kernel size of the two main-branch convolutions (odd; "same" padding).
  TORCH_ARG(int64_t, kernel_size) = 3;
};

class ResidualBlockImpl : public torch::nn::Cloneable<ResidualBlockImpl>, public EquivariantModule {
 public:
  ResidualBlockImpl(Group group, int64_t in_fields, int64_t out_fields)
      : ResidualBlockImpl(ResidualBlockOptions(std::move(group), in_fields, out_fields)) {}
  explicit ResidualBlockImpl(ResidualBlockOptions options);

  void reset() override;
  /// Reports its output to the probe's observer (eqnn/nn/output_observer.h).
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  FieldType in_type() const override;
  FieldType out_type() const override;
  /// A plain-LibTorch residual module (models::PlainResidual) with the exported branches.
  torch::nn::Sequential export_module() const override;

  ResidualBlockOptions options;
  GroupConv2d conv1{nullptr}, conv2{nullptr};
  GroupBatchNorm2d bn1{nullptr}, bn2{nullptr};
  /// Empty when the block keeps width and size (the skip branch is the identity).
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(ResidualBlock);

/// ReLU(main(x) + skip(x)) with plain LibTorch branches (skip empty: the identity): the export
/// of ResidualBlock.
class PlainResidualImpl : public torch::nn::Cloneable<PlainResidualImpl> {
 public:
  PlainResidualImpl(torch::nn::Sequential main, torch::nn::Sequential skip);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& input);

  torch::nn::Sequential main{nullptr}, skip{nullptr};
};
TORCH_MODULE(PlainResidual);

}  // namespace models
}  // namespace eqnn
