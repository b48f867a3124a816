// The forward pass shared by LiftingConv2d and GroupConv2d once the filter bank is expanded.
// Internal header.
#pragma once

#include <torch/types.h>

#include <string>

#include "eqnn/field.h"
#include "eqnn/nn/equivariant_module.h"

namespace eqnn {
namespace detail {

struct Conv2dGeometry {
  int64_t kernel_size;
  int64_t stride;
  int64_t padding;
  int64_t dilation;
  PaddingMode padding_mode;
  bool strict;
  bool channels_last;
};

/// The memory format the convolution produces: channels_last when the input is channels_last, or
/// when it is ambiguous (one channel or a 1x1 plane) and the layer asks for channels_last.
at::MemoryFormat conv_output_format(const torch::Tensor& input, bool channels_last_option);

/// Validates the options of a conv layer: positive channel/field counts, kernel size, stride and
/// dilation, a non-negative padding. Reflect and circular padding also depend on the input's size,
/// so equivariant_conv2d checks them in forward.
void check_conv_options(const std::string& who, int64_t in_count, int64_t out_fields,
                        const Conv2dGeometry& geometry);

/// Checks input against in_type, the exactness guards and the padding against the input (reflect:
/// smaller than each side; circular: at most each side), then runs conv2d with the expanded filter
/// bank (and expanded bias, if defined): zero padding inside conv2d, other modes through
/// pad_keeping_format.
torch::Tensor equivariant_conv2d(const std::string& who, const FieldType& in_type,
                                 const torch::Tensor& input, const torch::Tensor& weight,
                                 const torch::Tensor& expanded_weight,
                                 const torch::Tensor& expanded_bias,
                                 const Conv2dGeometry& geometry);

/// Pads the last two dims by p on each side in the given mode, writing straight into a tensor of
/// the input's memory format (NCHW or channels_last): the interior is copied once, then the
/// borders are filled (rows, then columns), with no format conversion.
torch::Tensor pad_keeping_format(const torch::Tensor& x, int64_t p, PaddingMode mode);

/// He (Kaiming) normal initialisation for a filter bank whose expanded fan-in is fan_in.
void he_init(torch::Tensor& weight, torch::Tensor& bias, int64_t fan_in);

}  // namespace detail
}  // namespace eqnn
