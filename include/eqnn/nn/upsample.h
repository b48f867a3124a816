/// \file
/// Equivariant upsampling of feature maps by an integer factor (nearest or bilinear).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

/// How Upsample2d interpolates.
enum class UpsampleMode { Nearest, Bilinear };

/// Options of Upsample2d.
struct Upsample2dOptions {
  /// Fields of `type` (any kind, any group), scaled by `scale_factor`.
  Upsample2dOptions(FieldType type, int64_t scale_factor)
      : type_(std::move(type)), scale_factor_(scale_factor) {}
  /// The fields of the input (and output: upsampling moves the plane only).
  TORCH_ARG(FieldType, type);
  /// The integer factor of height and width, >= 1.
  TORCH_ARG(int64_t, scale_factor);
  /// Nearest (each pixel becomes an s x s block) or bilinear (align_corners = false).
  TORCH_ARG(UpsampleMode, mode) = UpsampleMode::Nearest;
};

/// (B, C, H, W) -> (B, C, sH, sW), each channel on its own, so the group axis of regular fields is
/// untouched. Both modes are exactly equivariant to the elements on the grid, for any H and W: an
/// s x s block, and the bilinear sample point (i + 1/2)/s - 1/2 of output pixel i, are symmetric
/// about the plane's centre. Elements off the grid are approximate, like every interpolated
/// rotation.
class Upsample2dImpl : public torch::nn::Cloneable<Upsample2dImpl>, public EquivariantModule {
 public:
  /// Builds the layer (reset()).
  explicit Upsample2dImpl(Upsample2dOptions options);

  /// Validates the options: scale_factor >= 1.
  void reset() override;
  /// "eqnn::Upsample2d(4 regular D4 fields (32 channels), x2, nearest)".
  void pretty_print(std::ostream& stream) const override;
  /// Throws, naming the layer, unless input is (B, C, H, W) of the layer's field type.
  torch::Tensor forward(const torch::Tensor& input);

  FieldType in_type() const override { return options.type(); }   ///< the options' type
  FieldType out_type() const override { return options.type(); }  ///< the same fields
  /// torch::nn::Upsample with the same factor and mode.
  torch::nn::Sequential export_module() const override;

  Upsample2dOptions options;  ///< the options the layer was built with
};

/// The module holder of Upsample2dImpl.
TORCH_MODULE(Upsample2d);

}  // namespace eqnn
