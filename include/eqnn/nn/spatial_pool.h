// Equivariant spatial pooling: max or average over windows, and global average. They act on each
// channel alone, so they keep any field type; strided windows must sample a grid symmetric about
// the centre (docs/conventions.md) to stay exact.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

struct SpatialPool2dOptions {
  /// Regular fields of `group`, any number of them.
  SpatialPool2dOptions(Group group, int64_t kernel_size)
      : type_(FieldType::regular(std::move(group))), kernel_size_(kernel_size) {}
  SpatialPool2dOptions(FieldType type, int64_t kernel_size)
      : type_(std::move(type)), kernel_size_(kernel_size) {}

  TORCH_ARG(FieldType, type);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(PoolMode, mode) = PoolMode::Max;
  /// 0 means stride = kernel_size (non-overlapping windows), as in torch::nn::MaxPool2d.
  TORCH_ARG(int64_t, stride) = 0;
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(bool, strict) = true;
};

/// (B, C, H, W) -> (B, C, H', W') with max_pool2d or avg_pool2d (padding counted as zeros).
class SpatialPool2dImpl : public torch::nn::Cloneable<SpatialPool2dImpl>, public EquivariantModule {
 public:
  explicit SpatialPool2dImpl(SpatialPool2dOptions options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override { return options.type(); }
  FieldType out_type() const override { return options.type(); }
  /// torch::nn::MaxPool2d or AvgPool2d with the same window.
  torch::nn::Sequential export_module() const override;

  SpatialPool2dOptions options;
};

TORCH_MODULE(SpatialPool2d);

struct GlobalAvgPool2dOptions {
  /* implicit */ GlobalAvgPool2dOptions(Group group)
      : type_(FieldType::regular(std::move(group))) {}
  /* implicit */ GlobalAvgPool2dOptions(FieldType type) : type_(std::move(type)) {}

  TORCH_ARG(FieldType, type);
  /// Return (B, C) instead of (B, C, 1, 1).
  TORCH_ARG(bool, flatten) = false;
};

/// Mean over the plane: (B, C, H, W) -> (B, C, 1, 1), or (B, C) with flatten(true).
class GlobalAvgPool2dImpl : public torch::nn::Cloneable<GlobalAvgPool2dImpl>,
                            public EquivariantModule {
 public:
  explicit GlobalAvgPool2dImpl(GlobalAvgPool2dOptions options);

  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override { return options.type(); }
  FieldType out_type() const override { return options.type(); }
  /// torch::nn::AdaptiveAvgPool2d(1), then Flatten with flatten(true).
  torch::nn::Sequential export_module() const override;

  GlobalAvgPool2dOptions options;
};

TORCH_MODULE(GlobalAvgPool2d);

}  // namespace eqnn
