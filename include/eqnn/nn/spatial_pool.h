/// \file
/// Equivariant spatial pooling: max or average over windows, and global average. They act on each
/// channel alone, so they keep any field type; strided windows must sample a grid symmetric about
/// the centre (docs/conventions.md) to stay exact.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

/// Options of SpatialPool2d.
struct SpatialPool2dOptions {
  /// Regular fields of `group`, any number of them.
  SpatialPool2dOptions(Group group, int64_t kernel_size)
      : type_(FieldType::regular(std::move(group))), kernel_size_(kernel_size) {}
  /// Feature maps of any field type (the type only says how the group acts; pooling is per
  /// channel).
  SpatialPool2dOptions(FieldType type, int64_t kernel_size)
      : type_(std::move(type)), kernel_size_(kernel_size) {}

  /// The field type of the input (and output).
  TORCH_ARG(FieldType, type);
  /// Height = width of the window.
  TORCH_ARG(int64_t, kernel_size);
  /// Max or mean over each window.
  TORCH_ARG(PoolMode, mode) = PoolMode::Max;
  /// 0 means stride = kernel_size (non-overlapping windows), as in torch::nn::MaxPool2d.
  TORCH_ARG(int64_t, stride) = 0;
  /// Zero padding on each side, at most kernel_size / 2.
  TORCH_ARG(int64_t, padding) = 0;
  /// Throw when the input would make the pooling inexact (docs/conventions.md).
  TORCH_ARG(bool, strict) = true;
  /// Blur each channel with `blur` (3x3, stride 1, zero padding 1) before the windows. The blur is
  /// exactly D4-equivariant; it keeps a strided pooling much closer to equivariant under rotations
  /// off the pixel grid (less aliasing; measured in docs/equivariance_accuracy.md).
  TORCH_ARG(bool, antialias) = false;
  /// The blur of antialias: Binomial (the default since spec format 4 of the example models;
  /// measured better and faster than Box in docs/equivariance_accuracy.md, "Pooling") or Box (the
  /// only blur before; checkpoints written with it keep it).
  TORCH_ARG(Blur, blur) = Blur::Binomial;
};

/// (B, C, H, W) -> (B, C, H', W') with max_pool2d or avg_pool2d (padding counted as zeros), after a
/// 3x3 blur with antialias (a depthwise convolution for Binomial, avg_pool2d for Box).
class SpatialPool2dImpl : public torch::nn::Cloneable<SpatialPool2dImpl>, public EquivariantModule {
 public:
  /// Builds the layer (reset()).
  explicit SpatialPool2dImpl(SpatialPool2dOptions options);

  /// Validates the options (throws unless kernel_size > 0, stride >= 0 and 0 <= padding <=
  /// kernel_size / 2) and resolves stride 0 to kernel_size.
  void reset() override;
  /// "eqnn::SpatialPool2d(max, kernel_size=2, stride=2, padding=0, <type>)" (then ", antialias"
  /// and the blur, "binomial" or "box", when set).
  void pretty_print(std::ostream& stream) const override;
  /// Throws, naming the layer, for an input of another type and (with strict) for an input on
  /// which the window would not be exact.
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override { return options.type(); }   ///< options.type()
  FieldType out_type() const override { return options.type(); }  ///< options.type()
  /// torch::nn::MaxPool2d or AvgPool2d with the same window, after the blur with antialias: Box as
  /// AvgPool2d(3, 1, 1); Binomial as ZeroPad2d(1) and two AvgPool2d(2, 1) (two [1 1] / 2 passes
  /// per axis make [1 2 1] / 4; any channel count, the same values to rounding).
  torch::nn::Sequential export_module() const override;

  SpatialPool2dOptions options;  ///< the options, stride resolved
};

/// The module holder of SpatialPool2dImpl: `SpatialPool2d(SpatialPool2dOptions(group, 2))`.
TORCH_MODULE(SpatialPool2d);

/// Options of GlobalAvgPool2d.
struct GlobalAvgPool2dOptions {
  /// Regular fields of `group`, any number of them.
  /* implicit */ GlobalAvgPool2dOptions(Group group)
      : type_(FieldType::regular(std::move(group))) {}
  /// Feature maps of any field type.
  /* implicit */ GlobalAvgPool2dOptions(FieldType type) : type_(std::move(type)) {}

  /// The field type of the input (and output).
  TORCH_ARG(FieldType, type);
  /// Return (B, C) instead of (B, C, 1, 1).
  TORCH_ARG(bool, flatten) = false;
};

/// Mean over the plane: (B, C, H, W) -> (B, C, 1, 1), or (B, C) with flatten(true).
class GlobalAvgPool2dImpl : public torch::nn::Cloneable<GlobalAvgPool2dImpl>,
                            public EquivariantModule {
 public:
  /// Stores the options (there is nothing to validate).
  explicit GlobalAvgPool2dImpl(GlobalAvgPool2dOptions options);

  /// Nothing to (re)create: the layer has no parameters.
  void reset() override {}
  /// "eqnn::GlobalAvgPool2d(<type>)", or "eqnn::GlobalAvgPool2d(<type>, flatten)".
  void pretty_print(std::ostream& stream) const override;
  /// Throws, naming the layer, for an input of another type.
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override { return options.type(); }   ///< options.type()
  FieldType out_type() const override { return options.type(); }  ///< options.type()
  /// torch::nn::AdaptiveAvgPool2d(1), then Flatten with flatten(true).
  torch::nn::Sequential export_module() const override;

  GlobalAvgPool2dOptions options;  ///< the options the layer was built with
};

/// The module holder of GlobalAvgPool2dImpl: `GlobalAvgPool2d(GlobalAvgPool2dOptions(type))`.
TORCH_MODULE(GlobalAvgPool2d);

}  // namespace eqnn
