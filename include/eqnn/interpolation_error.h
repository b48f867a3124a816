/// \file
/// How equivariant the layers are to the group elements off the pixel grid
/// (docs/equivariance_accuracy.md): C8's 45-degree rotation can only be applied to an image by
/// interpolation, so f(g.x) and g.f(x) differ by interpolation error even for a perfectly steerable
/// layer. These functions measure that error on smooth (band-limited) inputs, per layer and for a
/// whole network, against N, the kernel size and the input size.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eqnn/group.h"

namespace eqnn {

/// Random images whose spectrum is cut off at `cutoff` cycles per pixel (0.5 is Nyquist), times a
/// smooth disc window (1 - (r/R)^2)^3 with R = (size-1)/2 - 1, so that no content rotates out of
/// the square; unit RMS. shape is (B, C, H, H). float64 unless dtype says otherwise.
torch::Tensor band_limited_input(const std::vector<int64_t>& shape, double cutoff, uint64_t seed,
                                 torch::ScalarType dtype = torch::kDouble);

/// What measure_interpolation_error covers.
struct InterpolationErrorOptions {
  /// The groups to measure (their elements off the grid).
  std::vector<Group> groups = {Group::cyclic(8), Group::dihedral(8), Group::cyclic(16)};
  std::vector<int64_t> kernel_sizes = {3, 5, 7, 9};  ///< of the convolutions
  std::vector<int64_t> sizes = {17, 33, 65};         ///< input height = width
  double cutoff = 0.125;                             ///< of band_limited_input, cycles per pixel
  int64_t fields = 4;                                ///< regular fields per layer
  int64_t max_frequency = -1;                        ///< of the layers' steerable bases
  uint64_t seed = 0;                                 ///< inputs and parameters
  bool network = true;  ///< also the models::small_gcnn network (its own kernel sizes)
};

/// One measured case: the worst element off the grid.
struct InterpolationErrorRow {
  std::string group;    ///< e.g. "C8"
  std::string layer;    ///< "input", "LiftingConv2d", "GroupConv2d" or "network (gcnn)"
  int64_t kernel_size;  ///< 0 for the input and the network
  int64_t size;         ///< input height = width
  std::string element;  ///< the worst element, e.g. "R^3"
  double relative_rms;  ///< ||f(g.x) - g.f(x)|| / ||f(x)|| (L2 over the whole output)
  double relative_max;  ///< max |f(g.x) - g.f(x)| / max |f(x)|
  double grid_max = 0;  ///< the same relative max error over the elements on the grid (exact)
};

/// Measures every (group, layer, kernel size, input size) in float64: "input" is the plane action
/// alone (L_g L_g' x against L_{g g'} x for g' = g, the interpolation error the layers inherit),
/// then a LiftingConv2d (1 -> fields) and a GroupConv2d (fields -> fields) with padding k/2, and
/// the whole small_gcnn network (its logits are invariant: |f(g.x) - f(x)|). on_row (optional) is
/// called after each row.
std::vector<InterpolationErrorRow> measure_interpolation_error(
    const InterpolationErrorOptions& options,
    const std::function<void(const InterpolationErrorRow&)>& on_row = nullptr);

/// The rows as a Markdown table.
std::string interpolation_error_table(const std::vector<InterpolationErrorRow>& rows);

}  // namespace eqnn
