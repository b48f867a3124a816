// Pooling over the group axis: each regular field becomes one invariant (trivial) channel.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

struct GroupPoolOptions {
  /* implicit */ GroupPoolOptions(Group group) : group_(std::move(group)) {}

  TORCH_ARG(Group, group);
  TORCH_ARG(PoolMode, mode) = PoolMode::Max;
  /// Pin the number of input fields (checked in forward); kAnyFields accepts any.
  TORCH_ARG(int64_t, num_fields) = FieldType::kAnyFields;
};

/// y[:, f] = max_t x[:, f*|G| + t] (or the mean): (B, F*|G|, H, W) -> (B, F, H, W), by
/// eqnn::ops::group_pool (the custom op torch.ops.eqnn.group_pool; NCHW or channels_last, kept).
/// Max lets a NaN win, as torch.max does.
class GroupPoolImpl : public torch::nn::Cloneable<GroupPoolImpl>, public EquivariantModule {
 public:
  explicit GroupPoolImpl(GroupPoolOptions options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override;
  FieldType out_type() const override;
  /// Unflatten(1, {-1, |G|}) -> MaxPool3d/AvgPool3d((|G|, 1, 1)) -> Flatten(1, 2).
  torch::nn::Sequential export_module() const override;

  GroupPoolOptions options;
};

TORCH_MODULE(GroupPool);

}  // namespace eqnn
