/// \file
/// What the equivariant convolutions share: parameters, initialisation, the forward pass through
/// the expanded filter bank, printing. A CRTP base; the derived class supplies the static hooks
///
///     kName, in_count(options), weight_shape(options), fan_in(options), expand(weight, group)
///
/// and in_type(). Defined in src/nn/conv_base.cpp and instantiated there for the two convolutions.
#pragma once

#include <torch/nn/cloneable.h>

#include <ostream>
#include <vector>

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {
/// Implementation details; only what the public classes derive from is documented here.
namespace detail {

/// The base of LiftingConv2dImpl and GroupConv2dImpl (see this file's description): their
/// parameters, forward, filter-bank cache, export and printing.
template <typename Derived, typename Options>
class EquivariantConv2dBase : public torch::nn::Cloneable<Derived>, public EquivariantModule {
 public:
  /// Stores the options; the derived constructor calls reset().
  explicit EquivariantConv2dBase(Options options_) : options(std::move(options_)) {}

  /// Validates the options and (re)creates the parameters. Throws unless the channel/field counts,
  /// kernel_size, stride and dilation are positive and padding is non-negative.
  void reset() override;
  /// He initialisation for the expanded fan-in; zero bias.
  void reset_parameters();
  /// One line, e.g. "eqnn::GroupConv2d(D4 (p4m), 8 regular D4 fields (64 channels) -> 16 fields,
  /// kernel_size=3, stride=1, padding=1)", then dilation, padding_mode, bias, strict and
  /// channels_last where they differ from their defaults.
  void pretty_print(std::ostream& stream) const override;

  /// (B, in_count, H, W) -> (B, out_fields * |G|, H', W'), in the input's memory format (NCHW or
  /// channels_last). In eval mode with gradients off (or frozen parameters) the expanded filter
  /// bank is cached and reused while the parameters keep their values: each call compares the base
  /// filters with a saved copy (exact, |G| times less work than expanding), so any change
  /// (optimizer steps, which write through .data() without bumping version counters, torch::load,
  /// manual edits) invalidates it. Switching modes drops it too. Throws, naming the layer, for an
  /// input of another type, dtype or device than the layer's, and (with strict) for an input on
  /// which the layer would not be exact (docs/conventions.md).
  torch::Tensor forward(const torch::Tensor& input);

  /// Drops the filter-bank cache, then switches mode.
  void train(bool on = true) override;

  /// The filter bank a plain conv2d would use: (out_fields * |G|, in_channels_total, k, k).
  torch::Tensor expanded_weight() const;
  /// (out_fields * |G|), or an undefined tensor without bias.
  torch::Tensor expanded_bias() const;

  /// out_fields regular fields.
  FieldType out_type() const override {
    return FieldType::regular(options.group(), options.out_fields());
  }

  /// A torch::nn::Conv2d holding the expanded filter bank (same stride, padding, dilation and
  /// padding mode): equal outputs without eqnn.
  torch::nn::Sequential export_module() const override;

  /// True when the last forward reused the cached filter bank (for tests and benchmarks).
  bool used_cached_filter() const { return cache_hit_; }

  Options options;  ///< the options the layer was built with
  /// The base filters: (out_fields, in_channels, k, k) for the lifting convolution,
  /// (out_fields, in_fields, |G|, k, k) for the group convolution.
  torch::Tensor weight;
  torch::Tensor bias;  ///< (out_fields), one per output field; undefined with bias(false)

 private:
  /// The expanded filter bank and bias for eval mode, with what they were computed from.
  struct FilterCache {
    torch::Tensor weight, bias;            // expanded
    torch::Tensor base_weight, base_bias;  // copies of the parameters they were expanded from
  };
  bool cache_valid() const;

  FilterCache cache_;
  bool cache_hit_ = false;
};

}  // namespace detail
}  // namespace eqnn
