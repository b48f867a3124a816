/// \file
/// Small enums shared by ops and layers.
#pragma once

namespace eqnn {

/// Reduction used by GroupPool (over the group axis) and SpatialPool2d (over a window).
enum class PoolMode { Max, Mean };

/// Padding modes of the convolutions; all are symmetric under the grid groups.
enum class PaddingMode { Zeros, Reflect, Replicate, Circular };

/// "max" or "mean".
const char* to_string(PoolMode mode);
/// "zeros", "reflect", "replicate" or "circular".
const char* to_string(PaddingMode mode);

}  // namespace eqnn
