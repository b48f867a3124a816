// Example networks composed from eqnn layers (used by the tests, the command-line program and the
// docs as a starting point).
#pragma once

#include <torch/arg.h>
#include <torch/nn/modules/container/sequential.h>

#include "eqnn/group.h"

namespace eqnn {
namespace models {

struct SmallGCNNOptions {
  SmallGCNNOptions(Group group, int64_t input_size)
      : group_(std::move(group)), input_size_(input_size) {}

  TORCH_ARG(Group, group);
  /// Height = width of the input; picks a spatial pooling whose sampling grid is exact
  /// (3x3 windows with stride 2 and padding 1 for odd sizes, 2x2 with stride 2 for even ones).
  TORCH_ARG(int64_t, input_size);
  TORCH_ARG(int64_t, in_channels) = 1;
  TORCH_ARG(int64_t, fields1) = 4;
  TORCH_ARG(int64_t, fields2) = 8;
  TORCH_ARG(int64_t, classes) = 10;
  TORCH_ARG(int64_t, kernel_size) = 3;
  /// Make the lifting layer produce channels_last even from a 1-channel input (then every layer
  /// after it runs channels_last: 3-7x faster convolutions on the build machine's CPUs).
  TORCH_ARG(bool, channels_last) = false;
};

/// lift (3x3) -> GroupBatchNorm -> ReLU -> GroupConv (3x3) -> SpatialPool (max) -> GroupConv (3x3)
/// -> GroupPool (max) -> GlobalAvgPool (flatten) -> Linear. Invariant end to end.
torch::nn::Sequential small_gcnn(const SmallGCNNOptions& options);

struct PlainCNNOptions {
  explicit PlainCNNOptions(int64_t input_size) : input_size_(input_size) {}

  TORCH_ARG(int64_t, input_size);
  TORCH_ARG(int64_t, in_channels) = 1;
  TORCH_ARG(int64_t, channels1) = 16;
  TORCH_ARG(int64_t, channels2) = 32;
  TORCH_ARG(int64_t, classes) = 10;
};

/// The same architecture without weight sharing over a group (the baseline of the seed paper's
/// question): conv -> BatchNorm -> ReLU -> conv -> max pool -> conv -> ReLU -> global average ->
/// Linear.
torch::nn::Sequential plain_cnn(const PlainCNNOptions& options);

/// Total number of scalar parameters.
int64_t parameter_count(const torch::nn::Module& module);

}  // namespace models
}  // namespace eqnn
