/// \file
/// Export to plain LibTorch: eqnn layers become torch::nn modules with the same outputs (expanded
/// filter banks in Conv2d, pooling over the group as 3-D pooling, ...), for deployment without
/// eqnn.
#pragma once

#include <torch/nn/modules/container/sequential.h>

namespace eqnn {

/// A copy of `sequential` in which every eqnn layer is replaced by its export_module() and every
/// other child is deep-cloned. Outputs are equal to the original's in the same mode.
torch::nn::Sequential export_sequential(const torch::nn::Sequential& sequential);

}  // namespace eqnn
