#include "eqnn/nn/group_batch_norm.h"

#include "exactness.h"

namespace eqnn {
namespace {
constexpr const char* kWho = "eqnn::GroupBatchNorm2d";
}

GroupBatchNorm2dImpl::GroupBatchNorm2dImpl(GroupBatchNorm2dOptions options_)
    : options(std::move(options_)) {
  reset();
}

void GroupBatchNorm2dImpl::reset() {
  const int64_t n = options.num_fields();
  TORCH_CHECK(n > 0, kWho, ": num_fields must be positive, got ", n);
  TORCH_CHECK(options.eps() > 0, kWho, ": eps must be positive, got ", options.eps());
  if (options.affine()) {
    weight = register_parameter("weight", torch::ones({n}));
    bias = register_parameter("bias", torch::zeros({n}));
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", torch::zeros({n}));
    running_var = register_buffer("running_var", torch::ones({n}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
  }
}

void GroupBatchNorm2dImpl::reset_running_stats() {
  if (!options.track_running_stats()) return;
  torch::NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

void GroupBatchNorm2dImpl::reset_parameters() {
  reset_running_stats();
  if (!options.affine()) return;
  torch::NoGradGuard no_grad;
  weight.fill_(1);
  bias.zero_();
}

void GroupBatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::GroupBatchNorm2d(" << options.group() << ", " << options.num_fields()
         << " fields, eps=" << options.eps() << ", momentum=" << options.momentum()
         << ", affine=" << options.affine()
         << ", track_running_stats=" << options.track_running_stats() << ")";
}

torch::Tensor GroupBatchNorm2dImpl::forward(const torch::Tensor& input) {
  in_type().check_input(input, kWho);
  if (options.affine()) detail::check_same_dtype_device(input, weight, kWho);
  const bool use_batch_stats = is_training() || !options.track_running_stats();
  if (is_training() && options.track_running_stats()) {
    TORCH_CHECK(input.numel() / options.num_fields() > 1, kWho,
                ": training needs more than one value per field, got input shape ", input.sizes());
    num_batches_tracked.add_(1);
  }
  // (B, F*|G|, H, W) -> (B, F, |G|*H, W): batch_norm then normalises each field over batch, group
  // axis and plane together.
  const auto sizes = input.sizes();
  const torch::Tensor grouped = input.reshape({sizes[0], options.num_fields(), -1, sizes[3]});
  const torch::Tensor out =
      torch::batch_norm(grouped, weight, bias, running_mean, running_var, use_batch_stats,
                        options.momentum(), options.eps(), at::globalContext().userEnabledCuDNN());
  return out.reshape(sizes);
}

FieldType GroupBatchNorm2dImpl::in_type() const {
  return FieldType::regular(options.group(), options.num_fields());
}

}  // namespace eqnn
