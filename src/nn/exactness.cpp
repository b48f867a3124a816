#include "exactness.h"

#include "eqnn/precision.h"

#include <c10/util/Exception.h>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

const char* to_string(PoolMode mode) {
  return mode == PoolMode::Max ? "max" : "mean";
}

const char* to_string(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::Zeros:
      return "zeros";
    case PaddingMode::Reflect:
      return "reflect";
    case PaddingMode::Replicate:
      return "replicate";
    case PaddingMode::Circular:
      return "circular";
  }
  return "?";
}

const char* to_string(Blur blur) {
  return blur == Blur::Box ? "box" : "binomial";
}

const char* to_string(FilterBasis basis) {
  switch (basis) {
    case FilterBasis::Auto:
      return "auto";
    case FilterBasis::Pixel:
      return "pixel";
    case FilterBasis::Steerable:
      return "steerable";
  }
  return "?";
}

namespace detail {

static const char* const kStrictHint = " Pass .strict(false) in the options to allow it anyway.";

void check_square_input(const Group& group, const torch::Tensor& input, const std::string& who) {
  TORCH_CHECK(!group.needs_square_planes() || input.size(-1) == input.size(-2), who, ": ",
              group.name(), " rotates by ", 360.0 / static_cast<double>(group.rotations()),
              " degrees, so ", group.is_grid_group() ? "exact " : "",
              "equivariance needs a square input; got ", input.size(-2), "x", input.size(-1), ".",
              kStrictHint);
}

void check_symmetric_sampling(const std::string& who, const char* dim_name, int64_t size,
                              int64_t kernel, int64_t stride, int64_t padding) {
  const int64_t span = size + 2 * padding - kernel;
  TORCH_CHECK(span >= 0, who, ": input ", dim_name, " ", size, " with padding ", padding,
              " is smaller than the kernel extent ", kernel);
  if (span % stride == 0) return;
  const int64_t below = size - span % stride;
  const int64_t above = below + stride;
  std::string sizes = std::to_string(above);
  if (below + 2 * padding >= kernel && below > 0) sizes = std::to_string(below) + " or " + sizes;
  TORCH_CHECK(false, who, ": input ", dim_name, " ", size, " with kernel extent ", kernel,
              ", stride ", stride, " and padding ", padding,
              " samples a grid that is not symmetric about the centre, so the layer would not be "
              "exactly equivariant ((",
              dim_name, " + 2*padding - kernel) = ", span, " is not divisible by ", stride,
              "). Input ", dim_name, "s that work: ", sizes, ".", kStrictHint);
}

void check_exact_window(const Group& group, const torch::Tensor& input, const std::string& who,
                        int64_t kernel, int64_t stride, int64_t padding) {
  check_square_input(group, input, who);
  check_symmetric_sampling(who, "height", input.size(-2), kernel, stride, padding);
  check_symmetric_sampling(who, "width", input.size(-1), kernel, stride, padding);
}

bool autocast_mixes(const torch::Tensor& input, const torch::Tensor& param) {
  const c10::DeviceType device = input.device().type();
  return input.scalar_type() != param.scalar_type() && autocast_enabled(device) &&
         input.scalar_type() == autocast_dtype(device) && param.scalar_type() == torch::kFloat;
}

void check_same_dtype_device(const torch::Tensor& input, const torch::Tensor& param,
                             const std::string& who) {
  TORCH_CHECK(input.scalar_type() == param.scalar_type() || autocast_mixes(input, param), who,
              ": input dtype ", input.scalar_type(), " does not match the parameters' dtype ",
              param.scalar_type(), "; convert the input or the module (module->to(...))");
  TORCH_CHECK(input.device() == param.device(), who, ": input is on ", input.device(),
              " but the parameters are on ", param.device(),
              "; move one of them (module->to(...))");
}

}  // namespace detail
}  // namespace eqnn
