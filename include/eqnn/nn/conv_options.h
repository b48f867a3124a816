/// \file
/// Options shared by the equivariant convolutions.
#pragma once

#include <torch/arg.h>

#include <cstdint>

#include "eqnn/nn/equivariant_module.h"

/// The arguments every eqnn convolution accepts (kept in one place so both option structs agree):
/// stride, padding, dilation, bias, padding mode, strict exactness checking, and channels_last.
///  - strict: raise an error when the input would make the layer inexact (docs/conventions.md).
///  - channels_last: produce channels_last output even when the input's format is ambiguous (one
///    channel, e.g. a grey image: both formats store it the same way). Otherwise the output follows
///    the input's format. Like PyTorch's model.to(memory_format=channels_last) for the first layer.
///  - basis: pixel or steerable filters (FilterBasis; Auto picks by group), and max_frequency, the
///    steerable basis's frequency cap (-1: the per-ring band limit alone; SteerableBasisOptions).
#define EQNN_CONV2D_COMMON_ARGS                              \
  TORCH_ARG(int64_t, stride) = 1;                            \
  TORCH_ARG(int64_t, padding) = 0;                           \
  TORCH_ARG(int64_t, dilation) = 1;                          \
  TORCH_ARG(bool, bias) = true;                              \
  TORCH_ARG(PaddingMode, padding_mode) = PaddingMode::Zeros; \
  TORCH_ARG(bool, strict) = true;                            \
  TORCH_ARG(bool, channels_last) = false;                    \
  TORCH_ARG(FilterBasis, basis) = FilterBasis::Auto;         \
  TORCH_ARG(int64_t, max_frequency) = -1
