#include "conv2d_forward.h"

#include <torch/nn/functional/padding.h>
#include <torch/nn/init.h>

#include <array>
#include <cmath>

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

torch::Tensor equivariant_conv2d(const std::string& who, const FieldType& in_type,
                                 const torch::Tensor& input, const torch::Tensor& weight,
                                 const torch::Tensor& expanded_weight,
                                 const torch::Tensor& expanded_bias, const Conv2dGeometry& g) {
  in_type.check_input(input, who);
  check_same_dtype_device(input, weight, who);
  const int64_t extent = g.dilation * (g.kernel_size - 1) + 1;
  if (g.strict) check_exact_window(in_type.group, input, who, extent, g.stride, g.padding);

  const std::array<int64_t, 2> stride{g.stride, g.stride}, dilation{g.dilation, g.dilation};
  if (g.padding_mode == PaddingMode::Zeros || g.padding == 0) {
    const std::array<int64_t, 2> padding{g.padding, g.padding};
    return torch::conv2d(input, expanded_weight, expanded_bias, stride, padding, dilation);
  }
  namespace F = torch::nn::functional;
  auto options = F::PadFuncOptions({g.padding, g.padding, g.padding, g.padding});
  switch (g.padding_mode) {
    case PaddingMode::Reflect:
      TORCH_CHECK(g.padding < input.size(-1) && g.padding < input.size(-2), who,
                  ": reflect padding ", g.padding, " needs an input larger than the padding, got ",
                  input.size(-2), "x", input.size(-1));
      options.mode(torch::kReflect);
      break;
    case PaddingMode::Replicate:
      options.mode(torch::kReplicate);
      break;
    case PaddingMode::Circular:
      TORCH_CHECK(g.padding <= input.size(-1) && g.padding <= input.size(-2), who,
                  ": circular padding ", g.padding, " cannot exceed the input size, got ",
                  input.size(-2), "x", input.size(-1));
      options.mode(torch::kCircular);
      break;
    case PaddingMode::Zeros:
      break;
  }
  const std::array<int64_t, 2> no_padding{0, 0};
  return torch::conv2d(F::pad(input, options), expanded_weight, expanded_bias, stride, no_padding,
                       dilation);
}

void he_init(torch::Tensor& weight, torch::Tensor& bias, int64_t fan_in) {
  torch::NoGradGuard no_grad;
  weight.normal_(0.0, std::sqrt(2.0 / static_cast<double>(fan_in)));
  if (bias.defined()) bias.zero_();
}

}  // namespace detail
}  // namespace eqnn
