#include "eqnn/self_check.h"

#include <torch/nn/modules/activation.h>

#include "eqnn/models.h"
#include "eqnn/nn/group_batch_norm.h"
#include "eqnn/nn/group_conv.h"
#include "eqnn/nn/group_pool.h"
#include "eqnn/nn/lifting_conv.h"
#include "eqnn/nn/spatial_pool.h"

namespace eqnn {
namespace {

using Check = std::function<EquivarianceReport(const Group&, torch::ScalarType, int64_t size,
                                               int64_t batch, torch::Device)>;

/// Random inputs, drawn on the CPU (the same numbers on every device) and moved.
torch::Tensor input(int64_t batch, int64_t channels, int64_t size, torch::ScalarType dtype,
                    torch::Device device) {
  return torch::randn({batch, channels, size, size}, torch::TensorOptions().dtype(dtype))
      .to(device);
}

/// A stride-2 window exact for this size: 3x3 with padding 1 on odd sizes, 2x2 on even ones.
int64_t window(int64_t size) {
  return size % 2 ? 3 : 2;
}
int64_t window_padding(int64_t size) {
  return size % 2;
}

template <typename Holder>
EquivarianceReport check_layer(Holder layer, torch::ScalarType dtype, const torch::Tensor& x) {
  layer->to(x.device(), dtype);
  return check_equivariance(layer, x);
}

/// The stride-2 pooling exact for this size (window and window_padding).
SpatialPool2dOptions halving_pool(const Group& g, int64_t size) {
  return SpatialPool2dOptions(g, window(size)).stride(2).padding(window_padding(size));
}

const std::vector<std::pair<std::string, Check>>& checks() {
  static const std::vector<std::pair<std::string, Check>> kChecks = {
      {"LiftingConv2d k3",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(LiftingConv2d(LiftingConv2dOptions(g, 3, 4, 3).padding(1)), dt,
                            input(b, 3, n, dt, dev));
       }},
      {"LiftingConv2d k2 (even)",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(LiftingConv2d(LiftingConv2dOptions(g, 3, 4, 2)), dt,
                            input(b, 3, n, dt, dev));
       }},
      {"LiftingConv2d stride 2",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(
             LiftingConv2d(
                 LiftingConv2dOptions(g, 3, 4, window(n)).stride(2).padding(window_padding(n))),
             dt, input(b, 3, n, dt, dev));
       }},
      {"GroupConv2d k3",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(GroupConv2d(GroupConv2dOptions(g, 3, 4, 3).padding(1)), dt,
                            input(b, 3 * g.order(), n, dt, dev));
       }},
      {"GroupConv2d k3 reflect",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(
             GroupConv2d(
                 GroupConv2dOptions(g, 3, 4, 3).padding(1).padding_mode(PaddingMode::Reflect)),
             dt, input(b, 3 * g.order(), n, dt, dev));
       }},
      {"GroupConv2d k3 circular",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(
             GroupConv2d(
                 GroupConv2dOptions(g, 3, 4, 3).padding(1).padding_mode(PaddingMode::Circular)),
             dt, input(b, 3 * g.order(), n, dt, dev));
       }},
      {"GroupConv2d k2 (even)",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(GroupConv2d(GroupConv2dOptions(g, 3, 4, 2)), dt,
                            input(b, 3 * g.order(), n, dt, dev));
       }},
      {"GroupConv2d stride 2",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(
             GroupConv2d(
                 GroupConv2dOptions(g, 3, 4, window(n)).stride(2).padding(window_padding(n))),
             dt, input(b, 3 * g.order(), n, dt, dev));
       }},
      {"GroupPool max",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(GroupPool(g), dt, input(b, 3 * g.order(), n, dt, dev));
       }},
      {"GroupPool mean",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(GroupPool(GroupPoolOptions(g).mode(PoolMode::Mean)), dt,
                            input(b, 3 * g.order(), n, dt, dev));
       }},
      {"GroupBatchNorm2d train",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(GroupBatchNorm2d(g, 3), dt, input(b, 3 * g.order(), n, dt, dev));
       }},
      {"GroupBatchNorm2d eval",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         GroupBatchNorm2d bn(g, 3);
         bn->to(dev, dt);
         bn->forward(input(b, 3 * g.order(), n, dt, dev) * 3 +
                     1);  // non-trivial running statistics
         bn->eval();
         return check_layer(bn, dt, input(b, 3 * g.order(), n, dt, dev));
       }},
      {"SpatialPool2d max",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(SpatialPool2d(halving_pool(g, n)), dt,
                            input(b, 3 * g.order(), n, dt, dev));
       }},
      {"SpatialPool2d max, binomial blur",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(SpatialPool2d(halving_pool(g, n).antialias(true)), dt,
                            input(b, 3 * g.order(), n, dt, dev));
       }},
      {"SpatialPool2d max, box blur",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(SpatialPool2d(halving_pool(g, n).antialias(true).blur(Blur::Box)), dt,
                            input(b, 3 * g.order(), n, dt, dev));
       }},
      {"SpatialPool2d mean",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(SpatialPool2d(halving_pool(g, n).mode(PoolMode::Mean)), dt,
                            input(b, 3 * g.order(), n, dt, dev));
       }},
      {"GlobalAvgPool2d",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         return check_layer(GlobalAvgPool2d(g), dt, input(b, 3 * g.order(), n, dt, dev));
       }},
      {"example G-CNN (invariant)",
       [](const Group& g, torch::ScalarType dt, int64_t n, int64_t b, torch::Device dev) {
         auto net = models::small_gcnn(models::SmallGCNNOptions(g, n));
         net->to(dev, dt);
         return check_equivariance(net, input(b, 1, n, dt, dev));
       }},
  };
  return kChecks;
}

}  // namespace

std::vector<std::string> self_check_layers() {
  std::vector<std::string> names;
  for (const auto& c : checks())
    names.push_back(c.first);
  return names;
}

std::vector<SelfCheckResult> run_self_check(
    const SelfCheckOptions& options, const std::function<void(const SelfCheckResult&)>& on_result) {
  TORCH_CHECK(!options.groups.empty() && !options.dtypes.empty() && !options.sizes.empty(),
              "eqnn::run_self_check: groups, dtypes and sizes must not be empty");
  torch::manual_seed(options.seed);
  std::vector<SelfCheckResult> results;
  for (const Group& g : options.groups) {
    for (const auto& [name, check] : checks()) {
      for (const torch::ScalarType dtype : options.dtypes) {
        SelfCheckResult result{g.name(), name, dtype, 0, {}};
        bool first = true;
        for (const int64_t size : options.sizes) {
          TORCH_CHECK(size >= 2, "eqnn::run_self_check: sizes must be at least 2, got ", size);
          EquivarianceReport report = check(g, dtype, size, options.batch, options.device);
          if (first || report.max_error() / report.tolerance >
                           result.worst.max_error() / result.worst.tolerance) {
            result.worst = std::move(report);
            result.worst_size = size;
            first = false;
          }
        }
        if (on_result) on_result(result);
        results.push_back(std::move(result));
      }
    }
  }
  return results;
}

}  // namespace eqnn
