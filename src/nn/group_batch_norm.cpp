#include "eqnn/nn/group_batch_norm.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include "eqnn/distributed/sync_batch_norm.h"
#include "eqnn/nn/output_observer.h"
#include "exactness.h"

namespace eqnn {
namespace {
constexpr const char* kBatchNormWho = "eqnn::GroupBatchNorm2d";
}

GroupBatchNorm2dImpl::GroupBatchNorm2dImpl(GroupBatchNorm2dOptions options_)
    : options(std::move(options_)) {
  reset();
}

void GroupBatchNorm2dImpl::reset() {
  const int64_t n = options.num_fields();
  TORCH_CHECK(n > 0, kBatchNormWho, ": num_fields must be positive, got ", n);
  TORCH_CHECK(options.eps() > 0, kBatchNormWho, ": eps must be positive, got ", options.eps());
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

torch::Tensor GroupBatchNorm2dImpl::forward(const torch::Tensor& features) {
  in_type().check_input(features, kBatchNormWho);
  if (options.affine()) detail::check_same_dtype_device(features, weight, kBatchNormWho);
  // under autocast the statistics are taken in float32 (and the output is float32)
  const torch::Tensor& parameter = weight.defined() ? weight : running_mean;
  const torch::Tensor input = parameter.defined() && detail::autocast_mixes(features, parameter)
                                  ? features.to(parameter.scalar_type())
                                  : features;
  const bool use_batch_stats = is_training() || !options.track_running_stats();
  // in data-parallel training with --sync-bn: statistics over every rank's share of the batch
  const std::shared_ptr<distributed::Communicator> sync =
      is_training() ? distributed::detail::batch_norm_communicator() : nullptr;
  if (is_training() && options.track_running_stats()) {
    TORCH_CHECK(sync != nullptr || input.numel() / options.num_fields() > 1, kBatchNormWho,
                ": training needs more than one value per field, got input shape ", input.sizes());
    num_batches_tracked.add_(1);
  }
  // batch_norm normalises dim 1 over all other dims, so view each field as one channel:
  //   NCHW:          (B, F*|G|, H, W) -> (B, F, |G|*H, W)
  //   channels_last: (B, H, W, F*|G|) in memory -> (B*H*W, F, |G|)
  // Both views are free (no copy), and the output keeps the input's memory format.
  const int64_t b = input.size(0), h = input.size(2), w = input.size(3);
  const int64_t f = options.num_fields(), g = options.group().order();
  auto normalise = [&](const torch::Tensor& grouped) {
    if (sync != nullptr)
      return distributed::sync_batch_norm(grouped, weight, bias, running_mean, running_var,
                                          options.momentum(), options.eps(), sync);
    return torch::batch_norm(grouped, weight, bias, running_mean, running_var, use_batch_stats,
                             options.momentum(), options.eps(),
                             at::globalContext().userEnabledCuDNN());
  };
  if (input.suggest_memory_format() == at::MemoryFormat::ChannelsLast) {
    const torch::Tensor nhwc = input.permute({0, 2, 3, 1});  // dense: a free view
    return report_output(
        *this,
        normalise(nhwc.reshape({b * h * w, f, g})).view({b, h, w, f * g}).permute({0, 3, 1, 2}));
  }
  return report_output(*this, normalise(input.reshape({b, f, g * h, w})).view({b, f * g, h, w}));
}

torch::nn::Sequential GroupBatchNorm2dImpl::export_module() const {
  namespace nn = torch::nn;
  torch::NoGradGuard no_grad;
  const int64_t f = options.num_fields(), g = options.group().order();
  nn::BatchNorm3d bn(nn::BatchNorm3dOptions(f)
                         .eps(options.eps())
                         .momentum(options.momentum())
                         .affine(options.affine())
                         .track_running_stats(options.track_running_stats()));
  const torch::Tensor reference = options.affine() ? weight : running_mean;
  if (reference.defined()) bn->to(reference.device(), reference.scalar_type());
  if (options.affine()) {
    bn->weight.copy_(weight);
    bn->bias.copy_(bias);
  }
  if (options.track_running_stats()) {
    bn->running_mean.copy_(running_mean);
    bn->running_var.copy_(running_var);
    bn->num_batches_tracked.copy_(num_batches_tracked);
  }
  nn::Sequential seq(nn::Unflatten(nn::UnflattenOptions(1, {f, g})), bn,
                     nn::Flatten(nn::FlattenOptions().start_dim(1).end_dim(2)));
  seq->train(is_training());
  return seq;
}

FieldType GroupBatchNorm2dImpl::in_type() const {
  return FieldType::regular(options.group(), options.num_fields());
}

}  // namespace eqnn
