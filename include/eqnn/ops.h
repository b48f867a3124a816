// The group-specific operations behind the layers, with autograd. They dispatch on the tensor's
// device: a CPU loop and a CUDA kernel run the same per-element index math
// (include/eqnn/detail/*_kernel.h).
#pragma once

#include <torch/types.h>

#include "eqnn/group.h"

namespace eqnn {
namespace ops {

/// Lifting filter bank: weight (Cout, Cin, k, k) -> (Cout * |G|, Cin, k, k), where output channel
/// o * |G| + t holds L_{h_t} w[o] (the filter rotated/flipped about its centre).
torch::Tensor expand_lifting_filter(const torch::Tensor& weight, const Group& group);

/// Group filter bank: weight (Cout, Cin, |G|, k, k) -> (Cout * |G|, Cin * |G|, k, k) with
/// tw[o, t, i, s] = L_{h_t}(w[o, i, idx(h_t^-1 h_s)]).
torch::Tensor expand_group_filter(const torch::Tensor& weight, const Group& group);

/// One bias per field, shared by its |G| channels: (Cout) -> (Cout * |G|).
torch::Tensor expand_bias(const torch::Tensor& bias, const Group& group);

}  // namespace ops
}  // namespace eqnn
