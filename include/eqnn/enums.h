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

/// The low-pass filter an antialiased SpatialPool2d applies to each channel before its windows
/// (3x3, stride 1, zero padding 1; both are exactly D4-equivariant):
///  - Box: the mean of the 3x3 neighbourhood, weights 1/9;
///  - Binomial: weights [1 2 1]^T [1 2 1] / 16, a closer approximation of a Gaussian, so nearly
///    isotropic (off-grid rotations see almost the same filter) and with less attenuation of the
///    low frequencies the features carry (docs/equivariance_accuracy.md, "Pooling").
enum class Blur { Box, Binomial };

/// "max" or "mean".
const char* to_string(PoolMode mode);
/// "zeros", "reflect", "replicate" or "circular".
const char* to_string(PaddingMode mode);
/// "auto", "pixel" or "steerable".
const char* to_string(FilterBasis basis);
/// "box" or "binomial".
const char* to_string(Blur blur);

}  // namespace eqnn
