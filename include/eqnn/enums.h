/// \file
/// Small enums shared by ops and layers.
#pragma once

namespace eqnn {

/// Reduction used by GroupPool (over the group axis) and SpatialPool2d (over a window).
enum class PoolMode { Max, Mean };

/// Padding modes of the convolutions; all are symmetric under the grid groups.
enum class PaddingMode { Zeros, Reflect, Replicate, Circular };

/// How a convolution parametrises its filters (docs/conventions.md, "Steerable filters"):
///  - Pixel: one parameter per filter pixel; exact, for the grid groups only.
///  - Steerable: coefficients of a SteerableBasis; any C_N or D_N.
///  - Auto: Pixel for the grid groups (C1, C2, C4, D1, D2, D4), Steerable for the others.
enum class FilterBasis { Auto, Pixel, Steerable };

/// "max" or "mean".
const char* to_string(PoolMode mode);
/// "zeros", "reflect", "replicate" or "circular".
const char* to_string(PaddingMode mode);
/// "auto", "pixel" or "steerable".
const char* to_string(FilterBasis basis);

}  // namespace eqnn
