#include "eqnn/nn/upsample.h"

#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/upsampling.h>

#include "eqnn/nn/output_observer.h"

namespace eqnn {
namespace {
constexpr const char* kUpsampleWho = "eqnn::Upsample2d";
}

Upsample2dImpl::Upsample2dImpl(Upsample2dOptions options_) : options(std::move(options_)) {
  reset();
}

void Upsample2dImpl::reset() {
  TORCH_CHECK(options.scale_factor() >= 1, kUpsampleWho, ": scale_factor must be >= 1, got ",
              options.scale_factor());
}

void Upsample2dImpl::pretty_print(std::ostream& stream) const {
  stream << kUpsampleWho << "(" << options.type() << ", x" << options.scale_factor() << ", "
         << (options.mode() == UpsampleMode::Nearest ? "nearest" : "bilinear") << ")";
}

torch::Tensor Upsample2dImpl::forward(const torch::Tensor& input) {
  options.type().check_input(input, kUpsampleWho);
  TORCH_CHECK(input.dim() == 4, kUpsampleWho, ": expected (B, C, H, W), got ", input.sizes());
  namespace F = torch::nn::functional;
  const double s = static_cast<double>(options.scale_factor());
  auto o = F::InterpolateFuncOptions().scale_factor(std::vector<double>{s, s});
  if (options.mode() == UpsampleMode::Nearest)
    o.mode(torch::kNearest);
  else
    o.mode(torch::kBilinear).align_corners(false);
  return report_output(*this, F::interpolate(input, o));
}

torch::nn::Sequential Upsample2dImpl::export_module() const {
  const double s = static_cast<double>(options.scale_factor());
  auto o = torch::nn::UpsampleOptions().scale_factor(std::vector<double>{s, s});
  if (options.mode() == UpsampleMode::Nearest)
    o.mode(torch::kNearest);
  else
    o.mode(torch::kBilinear).align_corners(false);
  return torch::nn::Sequential(torch::nn::Upsample(o));
}

}  // namespace eqnn
