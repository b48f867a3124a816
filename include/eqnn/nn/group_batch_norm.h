/// \file
/// Batch normalisation of regular fields: one mean/variance and one affine pair per field, shared
/// by its |G| channels (per-channel statistics would break equivariance).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

/// Options of GroupBatchNorm2d (those of torch::nn::BatchNorm2d, per field).
struct GroupBatchNorm2dOptions {
  /// The two options without a default.
  GroupBatchNorm2dOptions(Group group, int64_t num_fields)
      : group_(std::move(group)), num_fields_(num_fields) {}

  /// The group the fields are regular over.
  TORCH_ARG(Group, group);
  /// Regular fields of the input (num_fields * |G| channels).
  TORCH_ARG(int64_t, num_fields);
  /// Added to the variance before the square root (positive).
  TORCH_ARG(double, eps) = 1e-5;
  /// Weight of the current batch in the running statistics' update.
  TORCH_ARG(double, momentum) = 0.1;
  /// Learn a scale (weight) and shift (bias) per field.
  TORCH_ARG(bool, affine) = true;
  /// Keep running statistics for eval mode (else batch statistics are used in both modes).
  TORCH_ARG(bool, track_running_stats) = true;
};

/// Statistics over (batch, group axis, plane) for each field. Parameters weight, bias (num_fields);
/// buffers running_mean, running_var (num_fields), num_batches_tracked.
class GroupBatchNorm2dImpl : public torch::nn::Cloneable<GroupBatchNorm2dImpl>,
                             public EquivariantModule {
 public:
  /// The other options at their defaults.
  GroupBatchNorm2dImpl(Group group, int64_t num_fields)
      : GroupBatchNorm2dImpl(GroupBatchNorm2dOptions(std::move(group), num_fields)) {}
  /// Builds the layer (reset()).
  explicit GroupBatchNorm2dImpl(GroupBatchNorm2dOptions options);

  /// Validates the options (throws unless num_fields and eps are positive) and (re)creates the
  /// parameters (weight 1, bias 0) and buffers (mean 0, variance 1).
  void reset() override;
  /// Running mean 0, running variance 1, num_batches_tracked 0 (with track_running_stats).
  void reset_running_stats();
  /// reset_running_stats(), and weight 1, bias 0 (with affine).
  void reset_parameters();
  /// "eqnn::GroupBatchNorm2d(D4 (p4m), 8 fields, eps=1e-05, momentum=0.1, affine=1,
  /// track_running_stats=1)".
  void pretty_print(std::ostream& stream) const override;
  /// (B, num_fields * |G|, H, W) -> the same shape, normalised with batch statistics in training
  /// (updating the running ones) and running statistics in eval mode; keeps the memory format.
  /// Throws, naming the layer, for an input of another type, of another dtype or device than the
  /// affine parameters, and, when training with running statistics, for a single value per field.
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override;                        ///< num_fields regular fields
  FieldType out_type() const override { return in_type(); }  ///< the input's type
  /// Unflatten(1, {F, |G|}) -> BatchNorm3d(F) with these statistics -> Flatten(1, 2).
  torch::nn::Sequential export_module() const override;

  GroupBatchNorm2dOptions options;  ///< the options the layer was built with
  torch::Tensor weight;             ///< scale per field (num_fields); undefined without affine
  torch::Tensor bias;               ///< shift per field (num_fields); undefined without affine
  /// Running mean per field (num_fields); undefined without track_running_stats.
  torch::Tensor running_mean;
  /// Running (unbiased) variance per field (num_fields); undefined without track_running_stats.
  torch::Tensor running_var;
  /// Training batches seen (int64 scalar); undefined without track_running_stats.
  torch::Tensor num_batches_tracked;
};

/// The module holder of GroupBatchNorm2dImpl: `GroupBatchNorm2d(group, num_fields)`.
TORCH_MODULE(GroupBatchNorm2d);

}  // namespace eqnn
