// Batch normalisation of regular fields: one mean/variance and one affine pair per field, shared by
// its |G| channels (per-channel statistics would break equivariance).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

struct GroupBatchNorm2dOptions {
  GroupBatchNorm2dOptions(Group group, int64_t num_fields)
      : group_(std::move(group)), num_fields_(num_fields) {}

  TORCH_ARG(Group, group);
  TORCH_ARG(int64_t, num_fields);
  TORCH_ARG(double, eps) = 1e-5;
  TORCH_ARG(double, momentum) = 0.1;
  TORCH_ARG(bool, affine) = true;
  TORCH_ARG(bool, track_running_stats) = true;
};

/// Statistics over (batch, group axis, plane) for each field. Parameters weight, bias (num_fields);
/// buffers running_mean, running_var (num_fields), num_batches_tracked.
class GroupBatchNorm2dImpl : public torch::nn::Cloneable<GroupBatchNorm2dImpl>,
                             public EquivariantModule {
 public:
  GroupBatchNorm2dImpl(Group group, int64_t num_fields)
      : GroupBatchNorm2dImpl(GroupBatchNorm2dOptions(std::move(group), num_fields)) {}
  explicit GroupBatchNorm2dImpl(GroupBatchNorm2dOptions options);

  void reset() override;
  void reset_running_stats();
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override;
  FieldType out_type() const override { return in_type(); }
  /// Unflatten(1, {F, |G|}) -> BatchNorm3d(F) with these statistics -> Flatten(1, 2).
  torch::nn::Sequential export_module() const override;

  GroupBatchNorm2dOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
  torch::Tensor running_mean;
  torch::Tensor running_var;
  torch::Tensor num_batches_tracked;
};

TORCH_MODULE(GroupBatchNorm2d);

}  // namespace eqnn
