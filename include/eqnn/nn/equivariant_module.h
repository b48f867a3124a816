// The interface every eqnn layer implements next to torch::nn::Module: the field types of its input
// and output, so checks and probes know how the group acts on both.
#pragma once

#include "eqnn/field.h"

namespace eqnn {

class EquivariantModule {
 public:
  virtual ~EquivariantModule() = default;
  virtual FieldType in_type() const = 0;
  virtual FieldType out_type() const = 0;
};

/// Reduction used by GroupPool (over the group axis) and SpatialPool2d (over a window).
enum class PoolMode { Max, Mean };

/// Padding modes of the convolutions; all are symmetric under the grid groups.
enum class PaddingMode { Zeros, Reflect, Replicate, Circular };

const char* to_string(PoolMode mode);
const char* to_string(PaddingMode mode);

}  // namespace eqnn
