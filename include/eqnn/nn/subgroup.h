/// \file
/// Moving from a group to a subgroup: restriction of regular fields (D_N -> C_N, C_N -> C_M for M
/// dividing N, D4 -> D2, ...) and pooling over the mirror coset (D_N -> C_N).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

/// Options of RestrictFields.
struct RestrictFieldsOptions {
  /// Regular fields over `group`, seen as fields over `subgroup`.
  RestrictFieldsOptions(Group group, Group subgroup)
      : group_(std::move(group)), subgroup_(std::move(subgroup)) {}
  /// The group the input fields are regular over.
  TORCH_ARG(Group, group);
  /// A subgroup of it (Group::has_subgroup).
  TORCH_ARG(Group, subgroup);
  /// Pin the number of input fields (checked in forward); kAnyFields accepts any.
  TORCH_ARG(int64_t, num_fields) = FieldType::kAnyFields;
};

/// Restriction to a subgroup H of G: a regular G field is [G:H] regular H fields, one per right
/// coset H t_j (the representatives t_j in G's index order: the first element of G outside the
/// cosets so far). Output field f * [G:H] + j, channel h, is input field f, channel idx(h t_j):
/// (B, F * |G|, H, W) -> (B, F * [G:H] * |H|, H, W). No arithmetic: a channel gather (one copy; the
/// identity map when H = G), exact and differentiable. Equivariant to H (the checks use H's
/// elements, embedded in G).
class RestrictFieldsImpl : public torch::nn::Cloneable<RestrictFieldsImpl>,
                           public EquivariantModule {
 public:
  /// Builds the layer (reset()).
  explicit RestrictFieldsImpl(RestrictFieldsOptions options);

  /// Validates the options (a subgroup, num_fields positive or kAnyFields) and builds the gather.
  void reset() override;
  /// "eqnn::RestrictFields(D8 -> C8, 2 fields each)".
  void pretty_print(std::ostream& stream) const override;
  /// Throws, naming the layer, unless input is (B, F * |G|, H, W).
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override;   ///< num_fields regular G fields
  FieldType out_type() const override;  ///< num_fields * [G:H] regular H fields
  /// [G:H] regular H fields per input field.
  FieldType out_type_for(const FieldType& in) const override;
  /// A 1x1 Conv2d without bias whose weight is the permutation matrix (exact).
  torch::nn::Sequential export_module() const override;

  /// source[j * |H| + h] = idx(h t_j): the gather within one G field.
  const std::vector<int64_t>& source() const { return source_; }

  RestrictFieldsOptions options;  ///< the options the layer was built with

 private:
  std::vector<int64_t> source_;
  torch::Tensor index_;  // source_ as an int64 tensor (CPU)
};

/// The module holder of RestrictFieldsImpl: `RestrictFields(RestrictFieldsOptions(d8, c8))`.
TORCH_MODULE(RestrictFields);

/// Options of CosetPool.
struct CosetPoolOptions {
  /// Regular D_N fields to regular C_N fields.
  /* implicit */ CosetPoolOptions(Group group) : group_(std::move(group)) {}
  /// D_N, the group the input fields are regular over.
  TORCH_ARG(Group, group);
  /// Max or mean over each mirror coset.
  TORCH_ARG(PoolMode, mode) = PoolMode::Max;
  /// Pin the number of input fields (checked in forward); kAnyFields accepts any.
  TORCH_ARG(int64_t, num_fields) = FieldType::kAnyFields;
};

/// Pooling over the mirror cosets of D_N: y[f, r] = max (or mean) of x[f, R^r] and x[f, R^r M],
/// (B, F * 2N, H, W) -> (B, F * N, H, W): regular C_N fields, invariant to the mirror coset and
/// equivariant to C_N. (R^r M = M R^-r has index N + (-r mod N), conventions.md.)
class CosetPoolImpl : public torch::nn::Cloneable<CosetPoolImpl>, public EquivariantModule {
 public:
  /// Builds the layer (reset()).
  explicit CosetPoolImpl(CosetPoolOptions options);

  /// Validates the options: the group must be dihedral.
  void reset() override;
  /// "eqnn::CosetPool(D8 -> C8, max)".
  void pretty_print(std::ostream& stream) const override;
  /// Throws, naming the layer, unless input is (B, F * 2N, H, W).
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override;   ///< num_fields regular D_N fields
  FieldType out_type() const override;  ///< num_fields regular C_N fields
  /// The pairs gathered by a 1x1 Conv2d, then MaxPool3d/AvgPool3d over each pair.
  torch::nn::Sequential export_module() const override;

  CosetPoolOptions options;  ///< the options the layer was built with

 private:
  torch::Tensor mirror_index_;  // idx(R^r M) for r = 0..N-1 (CPU)
};

/// The module holder of CosetPoolImpl: `CosetPool(Group::dihedral(8))`.
TORCH_MODULE(CosetPool);

}  // namespace eqnn
