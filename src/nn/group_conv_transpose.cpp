#include "eqnn/nn/group_conv_transpose.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "eqnn/nn/output_observer.h"
#include "eqnn/ops.h"
#include "exactness.h"

namespace eqnn {
namespace {
constexpr const char* kConvTransposeWho = "eqnn::GroupConvTranspose2d";
}

GroupConvTranspose2dImpl::GroupConvTranspose2dImpl(GroupConvTranspose2dOptions options_)
    : options(std::move(options_)) {
  reset();
}

void GroupConvTranspose2dImpl::reset() {
  const auto& o = options;
  TORCH_CHECK(o.in_fields() > 0 && o.out_fields() > 0, kConvTransposeWho,
              ": the numbers of input and output fields must be positive, got ", o.in_fields(),
              " and ", o.out_fields());
  TORCH_CHECK(o.kernel_size() > 0, kConvTransposeWho, ": kernel_size must be positive, got ",
              o.kernel_size());
  TORCH_CHECK(o.stride() > 0, kConvTransposeWho, ": stride must be positive, got ", o.stride());
  TORCH_CHECK(o.padding() >= 0, kConvTransposeWho, ": padding must be non-negative, got ",
              o.padding());
  // the adjoint convolution: out_fields -> in_fields; its fan-in is the transposed layer's fan-out
  adjoint = register_module(
      "adjoint",
      GroupConv2d(GroupConv2dOptions(o.group(), o.out_fields(), o.in_fields(), o.kernel_size())
                      .bias(false)
                      .basis(o.basis())));
  bias = register_parameter("bias", o.bias() ? torch::zeros({o.out_fields()}) : torch::Tensor(),
                            /*requires_grad=*/o.bias());
}

void GroupConvTranspose2dImpl::pretty_print(std::ostream& stream) const {
  stream << kConvTransposeWho << "(" << options.group() << ", " << options.in_fields()
         << " fields -> " << options.out_fields()
         << " fields, kernel_size=" << options.kernel_size() << ", stride=" << options.stride()
         << ", padding=" << options.padding();
  if (!options.bias()) stream << ", bias=false";
  stream << ")";
}

torch::Tensor GroupConvTranspose2dImpl::forward(const torch::Tensor& input) {
  in_type().check_input(input, kConvTransposeWho);
  TORCH_CHECK(input.dim() == 4, kConvTransposeWho, ": expected (B, C, H, W), got ", input.sizes());
  detail::check_square_input(options.group(), input, kConvTransposeWho);
  for (const int64_t side : {input.size(2), input.size(3)})
    TORCH_CHECK((side - 1) * options.stride() - 2 * options.padding() + options.kernel_size() >= 1,
                kConvTransposeWho, ": an input of side ", side,
                " gives an empty output with kernel_size ", options.kernel_size(), ", stride ",
                options.stride(), " and padding ", options.padding());
  const torch::Tensor tw = adjoint->expanded_weight();
  TORCH_CHECK(input.scalar_type() == tw.scalar_type() && input.device() == tw.device(),
              kConvTransposeWho, ": the input (", input.scalar_type(), " on ", input.device(),
              ") must have the layer's dtype and device (", tw.scalar_type(), " on ", tw.device(),
              ")");
  const torch::Tensor b =
      bias.defined() ? ops::expand_bias(bias, options.group()) : torch::Tensor();
  return report_output(*this,
                       torch::conv_transpose2d(input, tw, b, options.stride(), options.padding()));
}

FieldType GroupConvTranspose2dImpl::in_type() const {
  return FieldType::regular(options.group(), options.in_fields());
}

FieldType GroupConvTranspose2dImpl::out_type() const {
  return FieldType::regular(options.group(), options.out_fields());
}

torch::nn::Sequential GroupConvTranspose2dImpl::export_module() const {
  torch::NoGradGuard no_grad;
  const torch::Tensor tw = adjoint->expanded_weight();
  torch::nn::ConvTranspose2d conv(
      torch::nn::ConvTranspose2dOptions(tw.size(0), tw.size(1), options.kernel_size())
          .stride(options.stride())
          .padding(options.padding())
          .bias(options.bias()));
  conv->to(tw.device(), tw.scalar_type());
  conv->weight.copy_(tw);
  if (options.bias()) conv->bias.copy_(ops::expand_bias(bias, options.group()));
  return torch::nn::Sequential(conv);
}

}  // namespace eqnn
