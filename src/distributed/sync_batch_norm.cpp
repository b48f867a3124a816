#include "eqnn/distributed/sync_batch_norm.h"

#include <ATen/core/ivalue.h>
#include <ATen/ops/native_batch_norm_backward.h>
#include <torch/autograd.h>

#include <string>
#include <tuple>
#include <vector>

namespace eqnn {
namespace distributed {
namespace {

constexpr const char* kSyncBatchNormWho = "eqnn::distributed::sync_batch_norm";

thread_local std::shared_ptr<Communicator> current_communicator;

/// Carries the communicator through the autograd context to the backward pass.
struct CommunicatorCapsule : torch::CustomClassHolder {
  explicit CommunicatorCapsule(std::shared_ptr<Communicator> c) : communicator(std::move(c)) {}
  std::shared_ptr<Communicator> communicator;
};

/// A per-channel vector (C) shaped to broadcast against (N, C, *).
torch::Tensor per_channel(const torch::Tensor& v, const torch::Tensor& like) {
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[1] = like.size(1);
  return v.view(shape);
}

struct SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& running_mean, const torch::Tensor& running_var,
                               double momentum, double eps,
                               const std::shared_ptr<Communicator>& communicator) {
    const int64_t channels = input.size(1);
    const int64_t local = channels > 0 ? input.numel() / channels : 0;
    const auto f64 = input.options().dtype(torch::kDouble);
    // this rank's (count, mean, biased variance) per channel (Welford, in the input's dtype)
    torch::Tensor stats = torch::zeros({1 + 2 * channels}, f64);
    stats[0] = static_cast<double>(local);
    if (local > 0) {
      std::vector<int64_t> dims{0};  // every dim but the channels'
      for (int64_t d = 2; d < input.dim(); ++d)
        dims.push_back(d);
      const auto [var, mean] = torch::var_mean(input, dims, /*unbiased=*/false);
      stats.narrow(0, 1, channels).copy_(mean);
      stats.narrow(0, 1 + channels, channels).copy_(var);
    }
    const std::vector<torch::Tensor> all =
        communicator->all_gather(stats, "sync batch norm: gathering the statistics");
    // combined exactly: mean = sum n_r m_r / n, var = sum n_r (v_r + (m_r - mean)^2) / n
    double n = 0;
    torch::Tensor mean = torch::zeros({channels}, f64);
    for (const torch::Tensor& s : all) {
      n += s[0].item<double>();
      mean.add_(s.narrow(0, 1, channels) * s[0]);
    }
    TORCH_CHECK(n > 1, kSyncBatchNormWho,
                ": expected more than one value per channel over all ranks, got ", n,
                " (input shape ", input.sizes(), " on rank ", communicator->rank(), ")");
    mean.div_(n);
    torch::Tensor var = torch::zeros({channels}, f64);
    for (const torch::Tensor& s : all)
      var.add_((s.narrow(0, 1 + channels, channels) + (s.narrow(0, 1, channels) - mean).square()) *
               s[0]);
    var.div_(n);
    if (running_mean.defined()) {
      running_mean.mul_(1 - momentum).add_(mean.to(running_mean.scalar_type()), momentum);
      running_var.mul_(1 - momentum)
          .add_((var * (n / (n - 1))).to(running_var.scalar_type()), momentum);
    }
    // one fused pass: batch_norm in eval mode normalises with the statistics it is given
    const auto dtype = input.scalar_type();
    const torch::Tensor mean_t = mean.to(dtype), var_t = var.to(dtype);
    ctx->save_for_backward({input, weight, mean_t, var_t});
    ctx->saved_data["count"] = n;
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["communicator"] =
        c10::IValue::make_capsule(c10::make_intrusive<CommunicatorCapsule>(communicator));
    return torch::batch_norm(input, weight, bias, mean_t, var_t, /*training=*/false, 0.0, eps,
                             /*cudnn_enabled=*/false);
  }

  // With g = dL/dy (L summed over ranks) and xhat the normalised input, over all ranks' samples:
  //   dL/dx = weight * invstd * (g - mean(g) - xhat * mean(g * xhat)),
  //   dL/dbias = sum(g), dL/dweight = sum(g * xhat)  (this rank's terms only).
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& input = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& mean = saved[2];
    const torch::Tensor& var = saved[3];
    const double n = ctx->saved_data["count"].toDouble();
    const double eps = ctx->saved_data["eps"].toDouble();
    const auto capsule = c10::static_intrusive_pointer_cast<CommunicatorCapsule>(
        ctx->saved_data["communicator"].toCapsule());
    const int64_t channels = input.size(1);
    // every rank takes part in the all-reduce, whether or not its output reached the loss
    const torch::Tensor g = grads[0].defined() ? grads[0] : torch::zeros_like(input);
    const torch::Tensor ones = torch::ones({channels}, input.options());
    torch::Tensor sum_g = torch::zeros({channels}, input.options());
    torch::Tensor sum_gx = torch::zeros({channels}, input.options());
    if (input.numel() > 0)  // sum(g * xhat) and sum(g) in one fused pass (eval-mode backward)
      std::tie(std::ignore, sum_gx, sum_g) =
          at::native_batch_norm_backward(g, input, weight.defined() ? weight : ones, mean, var, {},
                                         {}, /*train=*/false, eps, {false, true, true});
    torch::Tensor sums = torch::cat({sum_g, sum_gx}).to(torch::kDouble);
    capsule->communicator->all_reduce_sum(sums, "sync batch norm: the gradient sums");
    sums.div_(n);
    const auto dtype = input.scalar_type();
    const torch::Tensor mean_g = sums.narrow(0, 0, channels).to(dtype);
    const torch::Tensor mean_gx = sums.narrow(0, channels, channels).to(dtype);
    const torch::Tensor invstd = (var + eps).rsqrt();
    const torch::Tensor a = weight.defined() ? invstd * weight : invstd;
    // dx = a (g - mean(g)) - a invstd mean(g xhat) (x - mean)
    torch::Tensor grad_input = (input - per_channel(mean, input))
                                   .mul_(per_channel(-a * invstd * mean_gx, input))
                                   .addcmul_(g, per_channel(a, input))
                                   .sub_(per_channel(a * mean_g, input));
    const bool affine = weight.defined();
    return {grad_input,
            affine ? sum_gx : torch::Tensor(),
            affine ? sum_g : torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm(const torch::Tensor& input, const torch::Tensor& weight,
                              const torch::Tensor& bias, const torch::Tensor& running_mean,
                              const torch::Tensor& running_var, double momentum, double eps,
                              const std::shared_ptr<Communicator>& communicator) {
  TORCH_CHECK(communicator != nullptr, kSyncBatchNormWho, ": expected a communicator, got null");
  TORCH_CHECK(input.dim() >= 2 && input.is_floating_point(), kSyncBatchNormWho,
              ": expected a floating-point input (N, C, *), got ", input.sizes(), " of ",
              input.scalar_type());
  TORCH_CHECK(eps > 0 && momentum >= 0 && momentum <= 1, kSyncBatchNormWho,
              ": expected eps > 0 and momentum in [0, 1], got ", eps, " and ", momentum);
  TORCH_CHECK(weight.defined() == bias.defined(), kSyncBatchNormWho,
              ": expected weight and bias both defined or both undefined");
  TORCH_CHECK(running_mean.defined() == running_var.defined(), kSyncBatchNormWho,
              ": expected running_mean and running_var both defined or both undefined");
  const int64_t channels = input.size(1);
  for (const torch::Tensor* t : {&weight, &bias, &running_mean, &running_var}) {
    TORCH_CHECK(!t->defined() || (t->dim() == 1 && t->size(0) == channels), kSyncBatchNormWho,
                ": expected per-channel tensors of ", channels, " values for input ", input.sizes(),
                ", got ", t->sizes());
    TORCH_CHECK(!t->defined() || t->scalar_type() == input.scalar_type(), kSyncBatchNormWho,
                ": expected the parameters and statistics in the input's dtype ",
                input.scalar_type(), ", got ", t->scalar_type(),
                " (under autocast, cast the input to the parameters' dtype first)");
  }
  return SyncBatchNormFunction::apply(input, weight, bias, running_mean, running_var, momentum, eps,
                                      communicator);
}

SyncBatchNormGuard::SyncBatchNormGuard(std::shared_ptr<Communicator> communicator)
    : previous_(std::move(current_communicator)) {
  if (communicator != nullptr && communicator->world_size() > 1)
    current_communicator = std::move(communicator);
  else
    current_communicator = nullptr;
}

SyncBatchNormGuard::~SyncBatchNormGuard() {
  current_communicator = std::move(previous_);
}

namespace detail {
const std::shared_ptr<Communicator>& batch_norm_communicator() {
  return current_communicator;
}
}  // namespace detail

}  // namespace distributed
}  // namespace eqnn
