/// \file
/// Dynamic loss scaling for float16 training (Micikevicius et al. 2018, "Mixed Precision
/// Training"): the loss is multiplied by a scale S before the backward pass, so that small
/// gradients survive float16's narrow range, and the gradients are divided by S before the step.
/// A step whose gradients hold an Inf or NaN (the scaled backward pass overflowed) is skipped and
/// S shrinks; after growth_interval clean steps in a row S grows. Scales are powers of two with
/// the default factors, so scaling and unscaling are exact in binary floating point.
#pragma once

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace eqnn {

/// Options of LossScaler.
struct LossScalerOptions {
  /// The scale of the first step (positive, finite).
  TORCH_ARG(double, initial_scale) = 65536.0;
  /// Factor applied after growth_interval clean steps in a row (> 1).
  TORCH_ARG(double, growth_factor) = 2.0;
  /// Factor applied after a step with non-finite gradients (in (0, 1)).
  TORCH_ARG(double, backoff_factor) = 0.5;
  /// Clean steps in a row before the scale grows (positive).
  TORCH_ARG(int64_t, growth_interval) = 2000;
};

/// The scale and its history over the steps of one training run (this file's description).
class LossScaler {
 public:
  /// Validates the options (throws, naming them, for values outside their ranges).
  explicit LossScaler(LossScalerOptions options = {});

  /// loss * scale() (differentiable: back-propagate this one).
  torch::Tensor scale(const torch::Tensor& loss) const;
  /// Divides every defined gradient of `parameters` by scale() in place and returns whether all
  /// of them are finite. Then call update() with the result, and step only if it is true.
  bool unscale(const std::vector<torch::Tensor>& parameters) const;
  /// After a step's unscale(): a non-finite step multiplies the scale by backoff_factor and
  /// counts as skipped; growth_interval finite steps in a row multiply it by growth_factor.
  void update(bool finite);

  /// The current scale S.
  double current_scale() const { return scale_; }
  /// Finite steps since the last change of the scale (or the start).
  int64_t clean_steps() const { return clean_steps_; }
  /// Steps skipped so far for non-finite gradients.
  int64_t skipped_steps() const { return skipped_; }
  /// Restores a state (e.g. from a checkpoint): the scale and the clean steps in a row.
  void restore(double scale, int64_t clean_steps);
  /// The options it was made with.
  const LossScalerOptions& options() const { return options_; }

 private:
  LossScalerOptions options_;
  double scale_;
  int64_t clean_steps_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace eqnn
