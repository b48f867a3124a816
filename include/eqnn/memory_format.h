/// \file
/// channels_last for feature maps, including the ambiguous ones.
#pragma once

#include <torch/types.h>

namespace eqnn {

/// x (B, C, H, W) in channels_last. A dense tensor with one channel or a 1x1 plane stores the same
/// bytes in both formats but reports NCHW; it gets channels_last strides without a copy, so that
/// convolutions (which follow their input's strides) produce channels_last. Others are converted
/// with contiguous(ChannelsLast), a no-op when they already are.
torch::Tensor to_channels_last(const torch::Tensor& x);

}  // namespace eqnn
