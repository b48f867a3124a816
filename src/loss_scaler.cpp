#include "eqnn/loss_scaler.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>

namespace eqnn {
namespace {
constexpr const char* kLossScalerWho = "eqnn::LossScaler";

void check_scale(double scale) {
  TORCH_CHECK(std::isfinite(scale) && scale > 0, kLossScalerWho,
              ": expected a positive, finite scale, got ", scale);
}
}  // namespace

LossScaler::LossScaler(LossScalerOptions options)
    : options_(options), scale_(options.initial_scale()) {
  check_scale(options_.initial_scale());
  TORCH_CHECK(std::isfinite(options_.growth_factor()) && options_.growth_factor() > 1,
              kLossScalerWho, ": expected growth_factor > 1, got ", options_.growth_factor());
  TORCH_CHECK(options_.backoff_factor() > 0 && options_.backoff_factor() < 1, kLossScalerWho,
              ": expected backoff_factor in (0, 1), got ", options_.backoff_factor());
  TORCH_CHECK(options_.growth_interval() > 0, kLossScalerWho,
              ": expected a positive growth_interval, got ", options_.growth_interval());
}

torch::Tensor LossScaler::scale(const torch::Tensor& loss) const {
  return loss * scale_;
}

bool LossScaler::unscale(const std::vector<torch::Tensor>& parameters) const {
  torch::NoGradGuard no_grad;
  bool finite = true;
  const double inverse = 1.0 / scale_;
  for (const torch::Tensor& p : parameters) {
    torch::Tensor grad = p.grad();
    if (!grad.defined()) continue;
    grad.mul_(inverse);
    if (finite && !torch::isfinite(grad).all().item<bool>()) finite = false;
  }
  return finite;
}

void LossScaler::update(bool finite) {
  if (!finite) {
    ++skipped_;
    clean_steps_ = 0;
    // never down to 0: a model that overflows at every scale fails on its NaN loss instead
    scale_ = std::max(scale_ * options_.backoff_factor(), 1e-30);
    return;
  }
  if (++clean_steps_ < options_.growth_interval()) return;
  clean_steps_ = 0;
  const double grown = scale_ * options_.growth_factor();
  if (std::isfinite(grown)) scale_ = grown;
}

void LossScaler::restore(double scale, int64_t clean_steps) {
  check_scale(scale);
  TORCH_CHECK(clean_steps >= 0, kLossScalerWho, ": expected clean_steps >= 0, got ", clean_steps);
  scale_ = scale;
  clean_steps_ = clean_steps;
}

}  // namespace eqnn
