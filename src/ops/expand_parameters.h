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

/// (expanded weight, expanded bias) of a lifting (4-D) or group (5-D) weight and a defined 1-D
/// bias over `group`, a grid group.
std::pair<torch::Tensor, torch::Tensor> expand_filter_and_bias(const torch::Tensor& weight,
                                                               const torch::Tensor& bias,
                                                               const Group& group);

}  // namespace internal
}  // namespace ops
}  // namespace eqnn
