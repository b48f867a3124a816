#include "eqnn/nn/spatial_pool.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/padding.h>
#include <torch/nn/modules/pooling.h>

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <string>

#include "eqnn/nn/output_observer.h"
#include "exactness.h"

namespace eqnn {
namespace {
constexpr const char* kPoolWho = "eqnn::SpatialPool2d";
constexpr const char* kGlobalWho = "eqnn::GlobalAvgPool2d";

/// The 3x3 blur before an antialiased pooling's windows (stride 1, zero padding 1). Binomial is a
/// depthwise convolution with [1 2 1]^T [1 2 1] / 16 (exact in binary), which oneDNN runs faster
/// than avg_pool2d runs the box. The filter is made on the input's device (no host copy, nothing
/// shared between calls or threads), and the convolution runs in the input's dtype even under
/// autocast, as avg_pool2d does (autocast would run conv2d in bfloat16 or float16).
torch::Tensor blur(const torch::Tensor& x, Blur kind) {
  if (kind == Blur::Box) return torch::avg_pool2d(x, 3, 1, 1);
  const int64_t channels = x.size(1);
  // taps (1, 2, 1) / 4 = 1/2 - |t - 1| / 4 for t = 0, 1, 2 (exact in every float type)
  const torch::Tensor taps =
      (0.5 - (torch::arange(3, x.options().dtype(torch::kDouble)) - 1).abs() * 0.25)
          .to(x.scalar_type());
  const torch::Tensor filter =
      torch::outer(taps, taps).reshape({1, 1, 3, 3}).expand({channels, 1, 3, 3}).contiguous();
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  return torch::conv2d(x, filter, {}, 1, 1, 1, channels);
}
}  // namespace

SpatialPool2dImpl::SpatialPool2dImpl(SpatialPool2dOptions options_) : options(std::move(options_)) {
  reset();
}

void SpatialPool2dImpl::reset() {
  TORCH_CHECK(options.kernel_size() > 0, kPoolWho, ": kernel_size must be positive, got ",
              options.kernel_size());
  TORCH_CHECK(options.stride() >= 0, kPoolWho,
              ": stride must be positive (or 0 for kernel_size), got ", options.stride());
  TORCH_CHECK(options.padding() >= 0 && 2 * options.padding() <= options.kernel_size(), kPoolWho,
              ": padding must be between 0 and kernel_size / 2, got ", options.padding(),
              " for kernel_size ", options.kernel_size());
  if (options.stride() == 0) options.stride(options.kernel_size());
}

void SpatialPool2dImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::SpatialPool2d(" << to_string(options.mode())
         << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride()
         << ", padding=" << options.padding() << ", " << options.type()
         << (options.antialias() ? std::string(", antialias ") + to_string(options.blur()) : "")
         << ")";
}

torch::Tensor SpatialPool2dImpl::forward(const torch::Tensor& input) {
  options.type().check_input(input, kPoolWho);
  if (options.strict()) {
    detail::check_exact_window(options.type().group, input, kPoolWho, options.kernel_size(),
                               options.stride(), options.padding());
  }
  const int64_t k = options.kernel_size(), s = options.stride(), p = options.padding();
  const torch::Tensor x = options.antialias() ? blur(input, options.blur()) : input;
  return report_output(*this, options.mode() == PoolMode::Max ? torch::max_pool2d(x, k, s, p)
                                                              : torch::avg_pool2d(x, k, s, p));
}

torch::nn::Sequential SpatialPool2dImpl::export_module() const {
  namespace nn = torch::nn;
  const int64_t k = options.kernel_size(), s = options.stride(), p = options.padding();
  nn::Sequential out;
  if (options.antialias() && options.blur() == Blur::Box)
    out->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(1).padding(1)));
  if (options.antialias() && options.blur() == Blur::Binomial) {
    out->push_back(nn::ZeroPad2d(nn::ZeroPad2dOptions(1)));
    for (int pass = 0; pass < 2; ++pass)
      out->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(1)));
  }
  if (options.mode() == PoolMode::Max)
    out->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(k).stride(s).padding(p)));
  else
    out->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(k).stride(s).padding(p)));
  return out;
}

GlobalAvgPool2dImpl::GlobalAvgPool2dImpl(GlobalAvgPool2dOptions options_)
    : options(std::move(options_)) {}

void GlobalAvgPool2dImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::GlobalAvgPool2d(" << options.type() << (options.flatten() ? ", flatten" : "")
         << ")";
}

torch::Tensor GlobalAvgPool2dImpl::forward(const torch::Tensor& input) {
  options.type().check_input(input, kGlobalWho);
  return report_output(*this, input.mean({2, 3}, /*keepdim=*/!options.flatten()));
}

torch::nn::Sequential GlobalAvgPool2dImpl::export_module() const {
  namespace nn = torch::nn;
  nn::AdaptiveAvgPool2d pool(nn::AdaptiveAvgPool2dOptions(1));
  if (!options.flatten()) return nn::Sequential(pool);
  return nn::Sequential(pool, nn::Flatten());
}

}  // namespace eqnn
