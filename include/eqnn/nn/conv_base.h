// What the equivariant convolutions share: parameters, initialisation, the forward pass through the
// expanded filter bank, printing. A CRTP base; the derived class supplies the static hooks
//   kName, in_count(options), weight_shape(options), fan_in(options), expand(weight, group)
// and in_type(). Defined in src/nn/conv_base.cpp and instantiated there for the two convolutions.
#pragma once

#include <torch/nn/cloneable.h>

#include <ostream>
#include <vector>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {
namespace detail {

template <typename Derived, typename Options>
class EquivariantConv2dBase : public torch::nn::Cloneable<Derived>, public EquivariantModule {
 public:
  explicit EquivariantConv2dBase(Options options_) : options(std::move(options_)) {}

  /// Validates the options and (re)creates the parameters.
  void reset() override;
  /// He initialisation for the expanded fan-in; zero bias.
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  /// (B, in_count, H, W) -> (B, out_fields * |G|, H', W').
  torch::Tensor forward(const torch::Tensor& input);

  /// The filter bank a plain conv2d would use: (out_fields * |G|, in_channels_total, k, k).
  torch::Tensor expanded_weight() const;
  /// (out_fields * |G|), or an undefined tensor without bias.
  torch::Tensor expanded_bias() const;

  FieldType out_type() const override {
    return FieldType::regular(options.group(), options.out_fields());
  }

  Options options;
  torch::Tensor weight;
  torch::Tensor bias;
};

}  // namespace detail
}  // namespace eqnn
