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

torch::nn::Sequential small_gcnn(const SmallGCNNOptions& o) {
  TORCH_CHECK(o.input_size() >= 2, "eqnn::models::small_gcnn: input_size must be at least 2, got ",
              o.input_size());
  const Group& g = o.group();
  const int64_t k = o.kernel_size(), pad = k / 2;
  const bool odd = o.input_size() % 2 == 1;
  TORCH_CHECK(k % 2 == 1, "eqnn::models::small_gcnn: kernel_size must be odd (same padding), got ",
              k);
  return torch::nn::Sequential(
      LiftingConv2d(LiftingConv2dOptions(g, o.in_channels(), o.fields1(), k)
                        .padding(pad)
                        .channels_last(o.channels_last())),
      GroupBatchNorm2d(g, o.fields1()), torch::nn::ReLU(),
      GroupConv2d(GroupConv2dOptions(g, o.fields1(), o.fields2(), k).padding(pad)),
      SpatialPool2d(SpatialPool2dOptions(FieldType::regular(g, o.fields2()), odd ? 3 : 2)
                        .stride(2)
                        .padding(odd ? 1 : 0)),
      GroupConv2d(GroupConv2dOptions(g, o.fields2(), o.fields2(), k).padding(pad)),
      GroupPool(GroupPoolOptions(g).num_fields(o.fields2())),
      GlobalAvgPool2d(GlobalAvgPool2dOptions(FieldType::trivial(g, o.fields2())).flatten(true)),
      torch::nn::Linear(o.fields2(), o.classes()));
}

torch::nn::Sequential plain_cnn(const PlainCNNOptions& o) {
  namespace nn = torch::nn;
  TORCH_CHECK(o.input_size() >= 2, "eqnn::models::plain_cnn: input_size must be at least 2, got ",
              o.input_size());
  const bool odd = o.input_size() % 2 == 1;
  return nn::Sequential(
      nn::Conv2d(nn::Conv2dOptions(o.in_channels(), o.channels1(), 3).padding(1)),
      nn::BatchNorm2d(o.channels1()), nn::ReLU(),
      nn::Conv2d(nn::Conv2dOptions(o.channels1(), o.channels2(), 3).padding(1)),
      nn::MaxPool2d(nn::MaxPool2dOptions(odd ? 3 : 2).stride(2).padding(odd ? 1 : 0)),
      nn::Conv2d(nn::Conv2dOptions(o.channels2(), o.channels2(), 3).padding(1)), nn::ReLU(),
      nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)), nn::Flatten(),
      nn::Linear(o.channels2(), o.classes()));
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters())
    total += p.numel();
  return total;
}

}  // namespace models
}  // namespace eqnn
