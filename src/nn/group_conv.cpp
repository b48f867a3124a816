#include "eqnn/nn/group_conv.h"

#include "conv2d_forward.h"
#include "eqnn/ops.h"

namespace eqnn {
namespace {
constexpr const char* kWho = "eqnn::GroupConv2d";

detail::Conv2dGeometry geometry(const GroupConv2dOptions& o) {
  return {o.kernel_size(), o.stride(), o.padding(), o.dilation(), o.padding_mode(), o.strict()};
}
}  // namespace

GroupConv2dImpl::GroupConv2dImpl(GroupConv2dOptions options_) : options(std::move(options_)) {
  reset();
}

void GroupConv2dImpl::reset() {
  detail::check_conv_options(kWho, options.in_fields(), options.out_fields(), geometry(options));
  const int64_t k = options.kernel_size();
  weight = register_parameter("weight", torch::empty({options.out_fields(), options.in_fields(),
                                                      options.group().order(), k, k}));
  bias = register_parameter("bias",
                            options.bias() ? torch::empty({options.out_fields()}) : torch::Tensor(),
                            /*requires_grad=*/options.bias());
  reset_parameters();
}

void GroupConv2dImpl::reset_parameters() {
  detail::he_init(weight, bias,
                  options.in_fields() * options.group().order() * options.kernel_size() *
                      options.kernel_size());
}

void GroupConv2dImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::GroupConv2d(" << options.group() << ", " << options.in_fields() << " fields -> "
         << options.out_fields() << " fields, kernel_size=" << options.kernel_size()
         << ", stride=" << options.stride() << ", padding=" << options.padding();
  if (options.dilation() != 1) stream << ", dilation=" << options.dilation();
  if (options.padding_mode() != PaddingMode::Zeros)
    stream << ", padding_mode=" << to_string(options.padding_mode());
  if (!options.bias()) stream << ", bias=false";
  if (!options.strict()) stream << ", strict=false";
  stream << ")";
}

torch::Tensor GroupConv2dImpl::expanded_weight() const {
  return ops::expand_group_filter(weight, options.group());
}

torch::Tensor GroupConv2dImpl::expanded_bias() const {
  return bias.defined() ? ops::expand_bias(bias, options.group()) : torch::Tensor();
}

torch::Tensor GroupConv2dImpl::forward(const torch::Tensor& input) {
  return detail::equivariant_conv2d(kWho, in_type(), input, weight, expanded_weight(),
                                    expanded_bias(), geometry(options));
}

FieldType GroupConv2dImpl::in_type() const {
  return FieldType::regular(options.group(), options.in_fields());
}

FieldType GroupConv2dImpl::out_type() const {
  return FieldType::regular(options.group(), options.out_fields());
}

}  // namespace eqnn
