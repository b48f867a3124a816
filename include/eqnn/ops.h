/// \file
/// The group-specific operations behind the layers, with autograd. They dispatch on the tensor's
/// device: a CPU loop and a CUDA kernel run the same per-element index math
/// (include/eqnn/detail/*_kernel.h).
#pragma once

#include <torch/types.h>

#include <vector>

#include "eqnn/enums.h"
#include "eqnn/field.h"
#include "eqnn/group.h"

namespace eqnn {
/// The group-specific tensor operations behind the layers: custom ops with CPU and CUDA kernels
/// and autograd, also callable from TorchScript (as torch.ops.eqnn.NAME).
namespace ops {

/// Lifting filter bank: weight (Cout, Cin, k, k) -> (Cout * |G|, Cin, k, k), where output channel
/// o * |G| + t holds L_{h_t} w[o] (the filter rotated/flipped about its centre).
torch::Tensor expand_lifting_filter(const torch::Tensor& weight, const Group& group);

/// Group filter bank: weight (Cout, Cin, |G|, k, k) -> (Cout * |G|, Cin * |G|, k, k) with
/// tw[o, t, i, s] = L_{h_t}(w[o, i, idx(h_t^-1 h_s)]).
torch::Tensor expand_group_filter(const torch::Tensor& weight, const Group& group);

/// Steerable filter bank (docs/conventions.md, "Steerable filters"): coefficients (Cout, Cin, nb)
/// for a lifting filter or (Cout, Cin, |G|, nb) for a group filter, and the basis sampled for every
/// element, (|G|, nb, k, k) (SteerableBasis::sample, in the coefficients' dtype and device) ->
/// (Cout * |G|, Cin [* |G|], k, k) with
///   tw[o, t, i, s] = sum_b c[o, i, idx(h_t^-1 h_s), b] (L_{h_t} psi_b)   (s = 0 when lifting).
/// Differentiable in the coefficients; the basis is a constant.
torch::Tensor expand_steerable_filter(const torch::Tensor& coefficients, const torch::Tensor& basis,
                                      const Group& group);

/// One bias per field, shared by its |G| channels: (Cout) -> (Cout * |G|).
torch::Tensor expand_bias(const torch::Tensor& bias, const Group& group);

/// Pooling over the group axis of regular fields: (B, F * |G|, H, W) -> (B, F, H, W), keeping the
/// memory format (NCHW or channels_last). Max pooling's gradient goes to the winning element.
torch::Tensor group_pool(const torch::Tensor& x, const Group& group, PoolMode mode);

/// The action of every element in `elements` on x, fused (plane and group axis in one pass):
/// x (B, C, H, W) -> (K * B, C, H, W), the copy for elements[k] in rows k*B .. (k+1)*B - 1; for
/// kind == Regular, C is a multiple of |G|. x may also be (B, C) (no plane). Keeps the memory
/// format; differentiable. At most 16 elements per call; quarter turns need H == W.
torch::Tensor group_action(const torch::Tensor& x, const Group& group,
                           const std::vector<int64_t>& elements, FieldKind kind);

}  // namespace ops
}  // namespace eqnn
