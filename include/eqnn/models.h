/// \file
/// Example networks composed from eqnn layers (used by the tests, the command-line program and the
/// docs as a starting point).
#pragma once

#include <torch/arg.h>
#include <torch/nn/modules/container/sequential.h>

#include <optional>

#include "eqnn/group.h"
#include "eqnn/models/residual_block.h"

namespace eqnn {
/// Example networks built from eqnn layers.
namespace models {

/// Options of small_gcnn.
struct SmallGCNNOptions {
  /// The two options without a default.
  SmallGCNNOptions(Group group, int64_t input_size)
      : group_(std::move(group)), input_size_(input_size) {}

  /// The group of every layer.
  TORCH_ARG(Group, group);
  /// Height = width of the input; picks spatial poolings whose sampling grids are exact (2x2
  /// windows with stride 2 on even sizes, 3x3 with stride 2 and padding 1 on odd ones).
  TORCH_ARG(int64_t, input_size);
  /// Channels of the input images (trivial fields).
  TORCH_ARG(int64_t, in_channels) = 1;
  /// Regular fields of the first block (the lifting layer's output).
  TORCH_ARG(int64_t, fields1) = 6;
  /// Regular fields of the second block.
  TORCH_ARG(int64_t, fields2) = 12;
  /// Regular fields of the third block (and inputs of the final Linear layer).
  TORCH_ARG(int64_t, fields3) = 24;
  /// Outputs of the final Linear layer (logits).
  TORCH_ARG(int64_t, classes) = 10;
  /// Kernel size of the lifting layer (odd).
  TORCH_ARG(int64_t, lift_kernel_size) = 5;
  /// Kernel size of the group convolutions (odd).
  TORCH_ARG(int64_t, kernel_size) = 3;
  /// Make the lifting layer produce channels_last even from a 1-channel input (then every layer
  /// after it runs channels_last; whether that is faster depends on the CPU: README, "Both memory
  /// formats", and bench/RESULTS.md).
  TORCH_ARG(bool, channels_last) = false;
  /// Antialiased spatial pooling (SpatialPool2dOptions::antialias: a 3x3 blur before each halving
  /// max pool). nullopt: on for groups with rotations off the pixel grid (C_N, D_N with N other
  /// than 1, 2, 4), where it raised eqnn demo's first C8 model from 59.4% to 66.8% accuracy on test
  /// images rotated by 45 degrees (87.0% to 84.8% upright, with the box blur;
  /// docs/equivariance_accuracy.md, "Pooling"); off for the grid groups, which are exact either
  /// way.
  TORCH_ARG(std::optional<bool>, antialias) = std::nullopt;
  /// The antialiasing blur (SpatialPool2dOptions::blur). Binomial raised the demo's former C8
  /// model (5/10/20 fields) from 86.9% to 87.1% upright and from 78.5% to 79.7% at the unseen
  /// rotations, and trained 12% faster in that one run (docs/equivariance_accuracy.md, "Pooling");
  /// models of spec format 3 and older were trained with Box.
  TORCH_ARG(Blur, blur) = Blur::Binomial;
};

/// Three blocks and an invariant head:
///
///     lift (5x5) -> SpatialPool (max) -> GroupBatchNorm -> ReLU
///     -> GroupConv (3x3) -> SpatialPool (max) -> GroupBatchNorm -> ReLU
///     -> GroupConv (3x3) -> GroupBatchNorm -> ReLU
///     -> GroupPool (max) -> GlobalAvgPool (flatten) -> Linear.
///
/// Pooling before normalising does the batch norm and ReLU on a quarter of the pixels. Invariant
/// end to end; every stage before GroupPool is equivariant with regular fields. Throws for an
/// input_size below 2, a width that is not positive or an even kernel size.
torch::nn::Sequential small_gcnn(const SmallGCNNOptions& options);

/// Options of plain_cnn.
struct PlainCNNOptions {
  /// The option without a default.
  explicit PlainCNNOptions(int64_t input_size) : input_size_(input_size) {}

  /// Height = width of the input; picks exact poolings as in small_gcnn.
  TORCH_ARG(int64_t, input_size);
  /// Channels of the input images.
  TORCH_ARG(int64_t, in_channels) = 1;
  /// Output channels of the first convolution.
  TORCH_ARG(int64_t, channels1) = 16;
  /// Output channels of the second convolution.
  TORCH_ARG(int64_t, channels2) = 32;
  /// Output channels of the third convolution (and inputs of the final Linear layer).
  TORCH_ARG(int64_t, channels3) = 64;
  /// Outputs of the final Linear layer (logits).
  TORCH_ARG(int64_t, classes) = 10;
  /// Kernel size of the first convolution (odd).
  TORCH_ARG(int64_t, first_kernel_size) = 5;
  /// Kernel size of the second and third convolutions (odd).
  TORCH_ARG(int64_t, kernel_size) = 3;
};

/// The same architecture without weight sharing over a group (the baseline of the seed paper's
/// question): conv (5x5) -> max pool -> BatchNorm -> ReLU -> conv -> max pool -> BatchNorm -> ReLU
/// -> conv -> BatchNorm -> ReLU -> global average -> Linear. With the default widths it has about
/// as many parameters as small_gcnn's D4 defaults (24k vs 26k). Throws like small_gcnn.
torch::nn::Sequential plain_cnn(const PlainCNNOptions& options);

/// Options of small_resnet.
struct SmallResNetOptions {
  /// The two options without a default.
  SmallResNetOptions(Group group, int64_t input_size)
      : group_(std::move(group)), input_size_(input_size) {}

  /// The group of every layer.
  TORCH_ARG(Group, group);
  /// Height = width of the input; the poolings between the stages are exact on it (as in
  /// small_gcnn).
  TORCH_ARG(int64_t, input_size);
  /// Channels of the input images (trivial fields).
  TORCH_ARG(int64_t, in_channels) = 1;
  /// Regular fields of the lifting layer and the first block (f1).
  TORCH_ARG(int64_t, fields1) = 4;
  /// Regular fields of the second block (f2).
  TORCH_ARG(int64_t, fields2) = 8;
  /// Regular fields of the third block (f3, and inputs of the final Linear layer).
  TORCH_ARG(int64_t, fields3) = 16;
  /// Outputs of the final Linear layer (logits).
  TORCH_ARG(int64_t, classes) = 10;
};

/// A small equivariant ResNet:
///
///     lift (3x3) -> GroupBatchNorm -> ReLU -> ResidualBlock(f1 -> f1) -> SpatialPool (max)
///     -> ResidualBlock(f1 -> f2, 1x1 skip) -> SpatialPool (max)
///     -> ResidualBlock(f2 -> f3, 1x1 skip)
///     -> GroupPool (max) -> GlobalAvgPool (flatten) -> Linear.
///
/// Invariant end to end; a Sequential, so check_equivariance and the probes see every block, and
/// the probes see inside the blocks too (their layers report their outputs).
torch::nn::Sequential small_resnet(const SmallResNetOptions& options);

/// Total number of scalar parameters.
int64_t parameter_count(const torch::nn::Module& module);

}  // namespace models
}  // namespace eqnn
