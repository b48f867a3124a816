/// \file
/// Lie derivatives of a network under the plane's continuous symmetries, after Gruver et al.
/// ("The Lie Derivative for Measuring Learned Equivariance", ICLR 2023); docs/metrics.md,
/// section 8. For a generator X (rotation about the image centre, translation along x or y) with
/// flow rho(t), the Lie derivative of stage i at x is
///     L_X f_i(x) = d/dt f_i(rho(t) x) - D_i f_i(x)  at t = 0,
/// where D_i = d/dt rho_i(t) at t = 0 is the generator on the stage's features (the same flow on
/// feature maps: the plane moves, channels stay, translations scaled by the map's size; 0 on
/// features without a plane, so at an invariant output (logits) this is d/dt f(rho(t) x)). Both
/// are central differences with step h (translations: (f_i(rho(h) x) - f_i(rho(-h) x)) / 2h and
/// (rho_i(h) y - rho_i(-h) y) / 2h, y = f_i(x)); for rotations D is the closed-form generator on
/// every grid and the input is moved by it, x +- h D x (docs/metrics.md, section 8). Two forwards
/// per generator (both moved copies in one batch): D_i is applied to an estimate of f_i(x) from
/// the copies themselves, second-order accurate in h and exact for integer circular shifts of
/// equivariant stages. The value is the mean over samples of |L_X f_i(x)|_2; at the model output,
/// the LEE of Gruver et al.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "eqnn/probe/probed_model.h"
#include "eqnn/probe/report.h"
#include "eqnn/probe/uncertainty.h"

namespace eqnn {
namespace probe {

/// The generators of the plane's symmetry.
enum class Generator {
  Rotation,      ///< counter-clockwise about the centre (apply_generator: bilinear), per radian
  TranslationX,  ///< along the columns (to the right), circular, per input pixel
  TranslationY,  ///< along the rows (down), circular, per input pixel
};
/// "rotation", "translation_x", "translation_y".
const char* to_string(Generator generator);
/// The names of to_string (case-insensitive); throws otherwise.
Generator generator_from_name(const std::string& name);

/// rho(t) of `generator` on a batch (B, C, H, W): rotation by t radians (square planes), or a
/// circular shift by t * scale pixels, bilinear between the two nearest integer shifts (exactly
/// torch::roll for integers). Features of another rank are returned as they are.
torch::Tensor apply_generator(const torch::Tensor& x, Generator generator, double t,
                              double scale = 1.0);

/// What lie_derivatives measures and how.
struct LieDerivativeOptions {
  std::vector<Generator> generators = {Generator::Rotation, Generator::TranslationX,
                                       Generator::TranslationY};  ///< the generators
  /// The step h of the rotation's central difference along x +- h D x (converted to radians).
  double rotation_step_degrees = 0.5;
  /// The step for translations, in input pixels. 1 (the default) makes the estimate the central
  /// difference of integer circular shifts: a network equivariant to circular shifts gets 0.
  double translation_step = 1.0;
  int64_t batch_size = 32;  ///< samples per forward (each with its two moved copies)
  /// Relative step of the finite-difference Jacobian-vector products of the layer attribution:
  /// epsilon = jvp_step * max(|z_i|, 1) / |l_i| per sample.
  double jvp_step = 1e-3;
  UncertaintyOptions uncertainty;                  ///< of every value over samples
  std::function<void(int64_t, int64_t)> progress;  ///< (samples done, samples)
};

/// The Lie derivatives of every stage of `model` (as run_probe labels them) on the samples in
/// `inputs` (B, C, H, W): rows with metric "lie_derivative", deviation the generator's name and
/// value the mean over samples of |L_X f_i(x)|_2 (per radian, or per input pixel), with per-sample
/// values and intervals. Runs in inference mode; put the model in eval mode first.
Report lie_derivatives(const ProbedModel& model, const torch::Tensor& inputs,
                       const LieDerivativeOptions& options = {});

/// Layer attribution (after Gruver et al., section 5): for a Sequential f = f_n o ... o f_1 with
/// z_0 = x, z_i = f_i(z_{i-1}), the linearised Lie derivative J_f D_0 x - D_n f(x) is exactly
/// sum_i J_{f_n o ... o f_{i+1}} l_i with l_i = J_{f_i} D_{i-1} z_{i-1} - D_i z_i, layer i's own
/// Lie derivative (the sum telescopes). The Jacobian-vector products are central differences with
/// relative step jvp_step. Rows: metric "lie_attribution" with value the mean over samples of
/// <c_i, L_X f> / |L_X f| for the terms c_i (these add up to the output's value), and
/// "lie_attribution_norm" with the mean |c_i|; at the output also "lie_derivative" (the mean
/// |L_X f| of the linearised derivative: for rotations close to lie_derivatives' value, for
/// integer translation steps the derivative of the interpolated shift rather than of the integer
/// one) and "attribution_residual": mean |sum_i c_i - L_X f| / mean |L_X f|.
Report lie_derivative_attribution(const torch::nn::Sequential& model, const std::string& name,
                                  const torch::Tensor& inputs,
                                  const LieDerivativeOptions& options = {});

}  // namespace probe
}  // namespace eqnn
