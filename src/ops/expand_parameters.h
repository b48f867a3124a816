// The expanded filter bank and bias of a grid-group convolution in one autograd node (internal;
// the layers' training forward). Each is what ops::expand_{lifting,group}_filter and
// ops::expand_bias give, bit for bit, forward and backward; one node instead of two, and on the
// CPU no trip through the dispatcher, because at every training step a small layer spends about
// as long in that bookkeeping as in the expansion itself (bench/analysis.md).
#pragma once

#include <torch/types.h>

#include <utility>

#include "eqnn/group.h"

namespace eqnn {
namespace ops {
namespace internal {

/// b[f] -> (b[f] repeated `order` times, f = 0, 1, ...) and its adjoint (each field's `order`
/// gradients summed, t = 0, 1, ... in the accumulation type); plain loops on the CPU, where the
/// ATen composition (a reshape copy, a reduction) spends tens of microseconds in TensorIterator
/// setup on a few dozen numbers at every training step of every layer.
/// Throws unless `bias` is a defined 1-D tensor (every bias expansion's argument check).
void check_bias(const at::Tensor& bias);
at::Tensor repeat_fields(const at::Tensor& bias, int64_t order);
at::Tensor sum_fields(const at::Tensor& grad, int64_t order);

/// (expanded weight, expanded bias) of a lifting (4-D) or group (5-D) weight and a defined 1-D
/// bias over `group`, a grid group.
std::pair<torch::Tensor, torch::Tensor> expand_filter_and_bias(const torch::Tensor& weight,
                                                               const torch::Tensor& bias,
                                                               const Group& group);

/// The same for a steerable layer: (ops::expand_steerable_filter(coefficients, basis, group),
/// ops::expand_bias(bias, group)) in one node.
std::pair<torch::Tensor, torch::Tensor> expand_steerable_filter_and_bias(
    const torch::Tensor& coefficients, const torch::Tensor& basis, const torch::Tensor& bias,
    const Group& group);

}  // namespace internal
}  // namespace ops
}  // namespace eqnn
