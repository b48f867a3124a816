#include "eqnn/nn/lifting_conv.h"

#include "conv2d_forward.h"
#include "eqnn/ops.h"

namespace eqnn {
namespace {
constexpr const char* kWho = "eqnn::LiftingConv2d";

detail::Conv2dGeometry geometry(const LiftingConv2dOptions& o) {
  return {o.kernel_size(), o.stride(), o.padding(), o.dilation(), o.padding_mode(), o.strict()};
}
}  // namespace

LiftingConv2dImpl::LiftingConv2dImpl(LiftingConv2dOptions options_) : options(std::move(options_)) {
  reset();
}

void LiftingConv2dImpl::reset() {
  detail::check_conv_options(kWho, options.in_channels(), options.out_fields(), geometry(options));
  const int64_t k = options.kernel_size();
  weight = register_parameter("weight",
                              torch::empty({options.out_fields(), options.in_channels(), k, k}));
  bias = register_parameter("bias",
                            options.bias() ? torch::empty({options.out_fields()}) : torch::Tensor(),
                            /*requires_grad=*/options.bias());
  reset_parameters();
}

void LiftingConv2dImpl::reset_parameters() {
  detail::he_init(weight, bias,
                  options.in_channels() * options.kernel_size() * options.kernel_size());
}

void LiftingConv2dImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::LiftingConv2d(" << options.group() << ", " << options.in_channels() << " -> "
         << options.out_fields() << " fields, kernel_size=" << options.kernel_size()
         << ", stride=" << options.stride() << ", padding=" << options.padding();
  if (options.dilation() != 1) stream << ", dilation=" << options.dilation();
  if (options.padding_mode() != PaddingMode::Zeros)
    stream << ", padding_mode=" << to_string(options.padding_mode());
  if (!options.bias()) stream << ", bias=false";
  if (!options.strict()) stream << ", strict=false";
  stream << ")";
}

torch::Tensor LiftingConv2dImpl::expanded_weight() const {
  return ops::expand_lifting_filter(weight, options.group());
}

torch::Tensor LiftingConv2dImpl::expanded_bias() const {
  return bias.defined() ? ops::expand_bias(bias, options.group()) : torch::Tensor();
}

torch::Tensor LiftingConv2dImpl::forward(const torch::Tensor& input) {
  return detail::equivariant_conv2d(kWho, in_type(), input, weight, expanded_weight(),
                                    expanded_bias(), geometry(options));
}

FieldType LiftingConv2dImpl::in_type() const {
  return FieldType::trivial(options.group(), options.in_channels());
}

FieldType LiftingConv2dImpl::out_type() const {
  return FieldType::regular(options.group(), options.out_fields());
}

}  // namespace eqnn
