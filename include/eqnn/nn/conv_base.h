/// \file
/// What the equivariant convolutions share: parameters, initialisation, the forward pass through
/// the expanded filter bank, printing. A CRTP base; the derived class supplies the static hooks
///
///     kName, in_count(options), weight_shape(options), fan_in(options), expand(weight, group)
///
/// and in_type(). Defined in src/nn/conv_base.cpp and instantiated there for the two convolutions.
/// With steerable filters (options.basis(), FilterBasis) the weight holds basis coefficients
/// instead of pixels: the hooks' k x k pixel dims become the basis size nb, and the sampled basis
/// is the buffer "basis".
#pragma once

#include <torch/nn/cloneable.h>

#include <ostream>
#include <string>
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
  /// He initialisation for the expanded fan-in; zero bias. With steerable filters the coefficients
  /// get variance 2 / (C nb) for C input channels (the expanded filter's pixels then have He's
  /// variance 2 / (C k^2) on average, the basis functions having unit norm).
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

  /// True when the filters are steerable (options.basis() resolved for the group).
  bool steerable() const { return steerable_; }
  /// The steerable basis's description ("20 functions (rings 0..3, max frequency 4)"), or "" for
  /// pixel filters.
  const std::string& basis_description() const { return basis_description_; }

  /// True when the last forward reused the cached filter bank (for tests and benchmarks).
  bool used_cached_filter() const { return cache_hit_; }

  Options options;  ///< the options the layer was built with
  /// The base filters: (out_fields, in_channels, k, k) for the lifting convolution,
  /// (out_fields, in_fields, |G|, k, k) for the group convolution; with steerable filters the
  /// coefficients (out_fields, in_channels, nb) and (out_fields, in_fields, |G|, nb).
  torch::Tensor weight;
  /// Steerable filters only: the basis sampled for every element, (|G|, nb, k, k), float64 on the
  /// CPU (SteerableBasis::sample); the expansion uses a copy in the weight's dtype and device.
  /// Read-only.
  torch::Tensor basis;
  torch::Tensor bias;  ///< (out_fields), one per output field; undefined with bias(false)

 private:
  /// The expanded filter bank and bias for eval mode, with what they were computed from.
  struct FilterCache {
    torch::Tensor weight, bias;            // expanded
    torch::Tensor base_weight, base_bias;  // copies of the parameters they were expanded from
  };
  /// basis in the weight's dtype and device (made on first use after a change).
  const torch::Tensor& basis_like_weight() const;
  bool cache_valid() const;

  FilterCache cache_;
  bool cache_hit_ = false;
  bool steerable_ = false;
  std::string basis_description_;
  mutable torch::Tensor basis_cast_;
};

}  // namespace detail
}  // namespace eqnn
