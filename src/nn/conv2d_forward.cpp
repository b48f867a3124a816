#include "conv2d_forward.h"

#include <torch/nn/init.h>

#include <array>
#include <cmath>

#include "eqnn/memory_format.h"
#include "exactness.h"

namespace eqnn {
namespace detail {

void check_conv_options(const std::string& who, int64_t in_count, int64_t out_fields,
                        const Conv2dGeometry& g) {
  TORCH_CHECK(in_count > 0 && out_fields > 0, who,
              ": the numbers of input and output channels/fields ", "must be positive, got ",
              in_count, " and ", out_fields);
  TORCH_CHECK(g.kernel_size > 0, who, ": kernel_size must be positive, got ", g.kernel_size);
  TORCH_CHECK(g.stride > 0, who, ": stride must be positive, got ", g.stride);
  TORCH_CHECK(g.padding >= 0, who, ": padding must be non-negative, got ", g.padding);
  TORCH_CHECK(g.dilation > 0, who, ": dilation must be positive, got ", g.dilation);
}

at::MemoryFormat conv_output_format(const torch::Tensor& input, bool channels_last_option) {
  if (!input.defined() || input.dim() != 4) return at::MemoryFormat::Contiguous;
  if (input.suggest_memory_format() == at::MemoryFormat::ChannelsLast) {
    return at::MemoryFormat::ChannelsLast;
  }
  const bool ambiguous = input.size(1) == 1 || input.size(2) * input.size(3) == 1;
  return ambiguous && channels_last_option ? at::MemoryFormat::ChannelsLast
                                           : at::MemoryFormat::Contiguous;
}

torch::Tensor equivariant_conv2d(const std::string& who, const FieldType& in_type,
                                 const torch::Tensor& input, const torch::Tensor& weight,
                                 const torch::Tensor& expanded_weight,
                                 const torch::Tensor& expanded_bias, const Conv2dGeometry& g) {
  in_type.check_input(input, who);
  check_same_dtype_device(input, weight, who);
  const int64_t extent = g.dilation * (g.kernel_size - 1) + 1;
  if (g.strict) check_exact_window(in_type.group, input, who, extent, g.stride, g.padding);

  const std::array<int64_t, 2> stride{g.stride, g.stride}, dilation{g.dilation, g.dilation};
  // The backends (oneDNN, cuDNN) follow the input's strides. An ambiguous input (one channel or a
  // 1x1 plane) stores the same bytes in both formats: give it channels_last strides for free.
  const torch::Tensor x =
      conv_output_format(input, g.channels_last) == at::MemoryFormat::ChannelsLast
          ? to_channels_last(input)
          : input;
  if (g.padding_mode == PaddingMode::Zeros || g.padding == 0) {
    const std::array<int64_t, 2> padding{g.padding, g.padding};
    return torch::conv2d(x, expanded_weight, expanded_bias, stride, padding, dilation);
  }
  if (g.padding_mode == PaddingMode::Reflect) {
    TORCH_CHECK(g.padding < x.size(-1) && g.padding < input.size(-2), who, ": reflect padding ",
                g.padding, " needs an input larger than the padding, got ", input.size(-2), "x",
                input.size(-1));
  } else if (g.padding_mode == PaddingMode::Circular) {
    TORCH_CHECK(g.padding <= input.size(-1) && g.padding <= input.size(-2), who,
                ": circular padding ", g.padding, " cannot exceed the input size, got ",
                input.size(-2), "x", input.size(-1));
  }
  const std::array<int64_t, 2> no_padding{0, 0};
  return torch::conv2d(pad_keeping_format(x, g.padding, g.padding_mode), expanded_weight,
                       expanded_bias, stride, no_padding, dilation);
}

torch::Tensor pad_keeping_format(const torch::Tensor& x, int64_t p, PaddingMode mode) {
  const int64_t h = x.size(2), w = x.size(3);
  torch::Tensor out = torch::empty({x.size(0), x.size(1), h + 2 * p, w + 2 * p},
                                   x.options().memory_format(x.suggest_memory_format()));
  out.narrow(2, p, h).narrow(3, p, w).copy_(x);
  if (mode == PaddingMode::Zeros) {
    out.narrow(2, 0, p).zero_();
    out.narrow(2, p + h, p).zero_();
    out.narrow(3, 0, p).zero_();
    out.narrow(3, p + w, p).zero_();
    return out;
  }
  // Pads `region` along `dim` from its band [p, p + n): rows first (within the interior columns),
  // then columns over the full height, so corners come out as two successive 1-D paddings, as in
  // torch's padding functions.
  auto fill = [&](const torch::Tensor& region, int64_t dim, int64_t n) {
    const torch::Tensor band = region.narrow(dim, p, n);
    torch::Tensor before = region.narrow(dim, 0, p), after = region.narrow(dim, p + n, p);
    switch (mode) {
      case PaddingMode::Reflect:  // mirror about the edge pixel, excluding it
        before.copy_(band.narrow(dim, 1, p).flip(dim));
        after.copy_(band.narrow(dim, n - 1 - p, p).flip(dim));
        break;
      case PaddingMode::Replicate:
        before.copy_(band.narrow(dim, 0, 1).expand_as(before));
        after.copy_(band.narrow(dim, n - 1, 1).expand_as(after));
        break;
      case PaddingMode::Circular:
        before.copy_(band.narrow(dim, n - p, p));
        after.copy_(band.narrow(dim, 0, p));
        break;
      case PaddingMode::Zeros:
        break;
    }
  };
  fill(out.narrow(3, p, w), 2, h);
  fill(out, 3, w);
  return out;
}

void he_init(torch::Tensor& weight, torch::Tensor& bias, int64_t fan_in) {
  torch::NoGradGuard no_grad;
  weight.normal_(0.0, std::sqrt(2.0 / static_cast<double>(fan_in)));
  if (bias.defined()) bias.zero_();
}

}  // namespace detail
}  // namespace eqnn
