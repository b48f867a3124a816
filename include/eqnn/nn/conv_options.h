// Options shared by the equivariant convolutions.
#pragma once

#include <torch/arg.h>

#include <cstdint>

#include "eqnn/nn/equivariant_module.h"

/// The arguments every eqnn convolution accepts (kept in one place so both option structs agree):
/// stride, padding, dilation, bias, padding mode and strict exactness checking.
#define EQNN_CONV2D_COMMON_ARGS                                                            \
  TORCH_ARG(int64_t, stride) = 1;                                                          \
  TORCH_ARG(int64_t, padding) = 0;                                                         \
  TORCH_ARG(int64_t, dilation) = 1;                                                        \
  TORCH_ARG(bool, bias) = true;                                                            \
  TORCH_ARG(PaddingMode, padding_mode) = PaddingMode::Zeros;                               \
  /** Raise an error when the input would make the layer inexact (docs/conventions.md). */ \
  TORCH_ARG(bool, strict) = true
