/// \file
/// Pooling over the group axis: each regular field becomes one invariant (trivial) channel.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

/// Options of GroupPool.
struct GroupPoolOptions {
  /// Max over `group`, any number of fields (so `GroupPool(group)` works).
  /* implicit */ GroupPoolOptions(Group group) : group_(std::move(group)) {}

  /// The group the input fields are regular over.
  TORCH_ARG(Group, group);
  /// Max or mean over the |G| channels of each field.
  TORCH_ARG(PoolMode, mode) = PoolMode::Max;
  /// Pin the number of input fields (checked in forward); kAnyFields accepts any.
  TORCH_ARG(int64_t, num_fields) = FieldType::kAnyFields;
};

/// y[:, f] = max_t x[:, f*|G| + t] (or the mean): (B, F*|G|, H, W) -> (B, F, H, W), by
/// eqnn::ops::group_pool (the custom op torch.ops.eqnn.group_pool; NCHW or channels_last, kept).
/// Max lets a NaN win, as torch.max does.
class GroupPoolImpl : public torch::nn::Cloneable<GroupPoolImpl>, public EquivariantModule {
 public:
  /// Builds the layer (reset()).
  explicit GroupPoolImpl(GroupPoolOptions options);

  /// Validates the options: throws unless num_fields is positive or kAnyFields.
  void reset() override;
  /// "eqnn::GroupPool(D4 (p4m), max)".
  void pretty_print(std::ostream& stream) const override;
  /// Throws, naming the layer, unless input is (B, F * |G|, H, W) (F = num_fields when pinned).
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override;   ///< num_fields regular fields
  FieldType out_type() const override;  ///< num_fields trivial fields
  /// Unflatten(1, {-1, |G|}) -> MaxPool3d/AvgPool3d((|G|, 1, 1)) -> Flatten(1, 2).
  torch::nn::Sequential export_module() const override;

  GroupPoolOptions options;  ///< the options the layer was built with
};

/// The module holder of GroupPoolImpl: `GroupPool(group)`.
TORCH_MODULE(GroupPool);

}  // namespace eqnn
