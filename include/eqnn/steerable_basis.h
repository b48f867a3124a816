/// \file
/// The steerable filter basis: circular harmonics times Gaussian rings (docs/conventions.md,
/// "Steerable filters"), band-limited per ring, and its samples for every element of a group.
#pragma once

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "eqnn/group.h"

namespace eqnn {

/// How the basis is chosen for a k x k filter.
struct SteerableBasisOptions {
  /// A basis for k x k filters.
  /* implicit */ SteerableBasisOptions(int64_t kernel_size) : kernel_size_(kernel_size) {}
  /// k, the filter's side (odd or even), >= 1.
  TORCH_ARG(int64_t, kernel_size);
  /// Standard deviation of each Gaussian ring, in pixels, > 0.
  TORCH_ARG(double, ring_width) = 0.6;
  /// Caps every ring's angular frequency (-1: the per-ring band limit alone).
  TORCH_ARG(int64_t, max_frequency) = -1;
};

/// The basis functions of steerable k x k filters, in polar coordinates (rho, phi) about the
/// filter's centre, phi measured from the row axis towards the column axis (so that R_theta adds
/// theta to phi):
///
///   psi(rho, phi) = exp(-(rho - r)^2 / (2 sigma^2)) * {1, cos(m phi), sin(m phi)} / norm
///
/// for rings r = 0, 1, ..., floor((k-1)/2) (up to the inscribed circle: beyond it only the corners
/// have pixels) and frequencies 0 <= m <= floor(pi r / 2) (about half the Nyquist limit of a ring
/// of 2 pi r pixels, so that the sampled harmonic does not alias; Weiler & Cesa 2019, Worrall et
/// al. 2017), and m <= 1 on the outer ring (r > (k-1)/2 - 1: its Gaussian reaches beyond the
/// inscribed circle, where pixels are sparse; measured in docs/equivariance_accuracy.md). The
/// corners still see the outer rings' Gaussian tails. A frequency m > 0 is 0 at rho = 0. norm makes
/// each function's samples on the unrotated grid a unit vector; a function whose samples depend
/// linearly on the ones before it (in this order: rings outwards, frequencies upwards, cos before
/// sin) is left out, so the sampled basis has full rank. A rotation acts on the coefficients
/// exactly; only the sampling onto the grid is approximate, and sampling rotations by multiples of
/// 90 degrees and the mirror is exact.
class SteerableBasis {
 public:
  /// One basis function.
  struct Function {
    double radius;      ///< r, the ring's radius in pixels
    int64_t frequency;  ///< m, the angular frequency
    bool sine;          ///< sin(m phi) rather than cos(m phi)
    double norm;        ///< the divisor that makes the unrotated samples a unit vector
  };

  /// Builds the basis (cheap: k^2 evaluations per candidate function). Throws for a kernel size
  /// < 1, a ring width <= 0, or a max_frequency < -1.
  explicit SteerableBasis(SteerableBasisOptions options);

  /// The number of basis functions.
  int64_t size() const { return static_cast<int64_t>(functions_.size()); }
  /// The functions, in basis order.
  const std::vector<Function>& functions() const { return functions_; }
  /// The options the basis was built with.
  const SteerableBasisOptions& options() const { return options_; }

  /// Function b at offsets (u, v) = (row, column) from the filter's centre (tensors of one shape,
  /// float64): the continuous function, for tests and plots.
  torch::Tensor evaluate(int64_t b, const torch::Tensor& u, const torch::Tensor& v) const;

  /// (|G|, size(), k, k), float64: entry [t, b] is L_{h_t} psi_b = psi_b(h_t^-1 p) sampled at the
  /// grid points p. The rotation part is evaluated in closed form (phi - theta), except that
  /// rotations by multiples of 90 degrees and mirrors are applied as exact permutations of the
  /// samples, so those copies are bit for bit permutations of each other.
  torch::Tensor sample(const Group& group) const;

  /// E.g. "20 functions (rings 0..3, max frequency 4)".
  std::string describe() const;

 private:
  /// psi_b(rho, phi - theta) on the grid, unnormalised (k, k), float64.
  torch::Tensor sample_rotated(const Function& f, double theta) const;

  SteerableBasisOptions options_;
  std::vector<Function> functions_;
};

}  // namespace eqnn
