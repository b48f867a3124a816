#include "eqnn/models.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "eqnn/nn/group_batch_norm.h"
#include "eqnn/nn/group_conv.h"
#include "eqnn/nn/group_pool.h"
#include "eqnn/nn/lifting_conv.h"
#include "eqnn/nn/spatial_pool.h"

namespace eqnn {
namespace models {

namespace {

/// A max-pooling window that halves `size` on an exact sampling grid (the grid is mapped onto
/// itself by every element of D4): 2x2 on even sizes, 3x3 with padding 1 on odd ones.
struct HalvingPool {
  int64_t kernel, padding, out_size;
};

HalvingPool halving_pool(int64_t size) {
  return size % 2 == 0 ? HalvingPool{2, 0, size / 2} : HalvingPool{3, 1, (size + 1) / 2};
}

void check_sizes(const char* who, int64_t input_size, std::initializer_list<int64_t> widths,
                 std::initializer_list<int64_t> kernels) {
  TORCH_CHECK(input_size >= 2, who, ": input_size must be at least 2, got ", input_size);
  for (int64_t w : widths)
    TORCH_CHECK(w > 0, who, ": widths must be positive, got ", w);
  for (int64_t k : kernels)
    TORCH_CHECK(k > 0 && k % 2 == 1, who, ": kernel sizes must be odd (same padding), got ", k);
}

}  // namespace

torch::nn::Sequential small_gcnn(const SmallGCNNOptions& o) {
  check_sizes("eqnn::models::small_gcnn", o.input_size(), {o.fields1(), o.fields2(), o.fields3()},
              {o.lift_kernel_size(), o.kernel_size()});
  const Group& g = o.group();
  const int64_t k = o.kernel_size();
  const HalvingPool pool1 = halving_pool(o.input_size()), pool2 = halving_pool(pool1.out_size);
  const bool antialias = o.antialias().value_or(!g.is_grid_group());
  auto pool = [&](int64_t fields, const HalvingPool& p) {
    return SpatialPool2d(SpatialPool2dOptions(FieldType::regular(g, fields), p.kernel)
                             .stride(2)
                             .padding(p.padding)
                             .antialias(antialias)
                             .blur(o.blur()));
  };
  return torch::nn::Sequential(
      LiftingConv2d(LiftingConv2dOptions(g, o.in_channels(), o.fields1(), o.lift_kernel_size())
                        .padding(o.lift_kernel_size() / 2)
                        .channels_last(o.channels_last())),
      pool(o.fields1(), pool1), GroupBatchNorm2d(g, o.fields1()), torch::nn::ReLU(),
      GroupConv2d(GroupConv2dOptions(g, o.fields1(), o.fields2(), k).padding(k / 2)),
      pool(o.fields2(), pool2), GroupBatchNorm2d(g, o.fields2()), torch::nn::ReLU(),
      GroupConv2d(GroupConv2dOptions(g, o.fields2(), o.fields3(), k).padding(k / 2)),
      GroupBatchNorm2d(g, o.fields3()), torch::nn::ReLU(),
      GroupPool(GroupPoolOptions(g).num_fields(o.fields3())),
      GlobalAvgPool2d(GlobalAvgPool2dOptions(FieldType::trivial(g, o.fields3())).flatten(true)),
      torch::nn::Linear(o.fields3(), o.classes()));
}

torch::nn::Sequential plain_cnn(const PlainCNNOptions& o) {
  namespace nn = torch::nn;
  check_sizes("eqnn::models::plain_cnn", o.input_size(),
              {o.channels1(), o.channels2(), o.channels3()},
              {o.first_kernel_size(), o.kernel_size()});
  const int64_t k = o.kernel_size(), k1 = o.first_kernel_size();
  const HalvingPool pool1 = halving_pool(o.input_size()), pool2 = halving_pool(pool1.out_size);
  auto pool = [](const HalvingPool& p) {
    return nn::MaxPool2d(nn::MaxPool2dOptions(p.kernel).stride(2).padding(p.padding));
  };
  return nn::Sequential(
      nn::Conv2d(nn::Conv2dOptions(o.in_channels(), o.channels1(), k1).padding(k1 / 2)),
      pool(pool1), nn::BatchNorm2d(o.channels1()), nn::ReLU(),
      nn::Conv2d(nn::Conv2dOptions(o.channels1(), o.channels2(), k).padding(k / 2)), pool(pool2),
      nn::BatchNorm2d(o.channels2()), nn::ReLU(),
      nn::Conv2d(nn::Conv2dOptions(o.channels2(), o.channels3(), k).padding(k / 2)),
      nn::BatchNorm2d(o.channels3()), nn::ReLU(),
      nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)), nn::Flatten(),
      nn::Linear(o.channels3(), o.classes()));
}

torch::nn::Sequential small_resnet(const SmallResNetOptions& o) {
  check_sizes("eqnn::models::small_resnet", o.input_size(), {o.fields1(), o.fields2(), o.fields3()},
              {});
  const Group& g = o.group();
  const HalvingPool pool1 = halving_pool(o.input_size()), pool2 = halving_pool(pool1.out_size);
  auto pool = [&](int64_t fields, const HalvingPool& p) {
    return SpatialPool2d(
        SpatialPool2dOptions(FieldType::regular(g, fields), p.kernel).stride(2).padding(p.padding));
  };
  return torch::nn::Sequential(
      LiftingConv2d(
          LiftingConv2dOptions(g, o.in_channels(), o.fields1(), 3).padding(1).bias(false)),
      GroupBatchNorm2d(g, o.fields1()), torch::nn::ReLU(),
      ResidualBlock(g, o.fields1(), o.fields1()), pool(o.fields1(), pool1),
      ResidualBlock(g, o.fields1(), o.fields2()), pool(o.fields2(), pool2),
      ResidualBlock(g, o.fields2(), o.fields3()),
      GroupPool(GroupPoolOptions(g).num_fields(o.fields3())),
      GlobalAvgPool2d(GlobalAvgPool2dOptions(FieldType::trivial(g, o.fields3())).flatten(true)),
      torch::nn::Linear(o.fields3(), o.classes()));
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters())
    total += p.numel();
  return total;
}

}  // namespace models
}  // namespace eqnn
