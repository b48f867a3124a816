// The interface every eqnn layer implements next to torch::nn::Module: the field types of its input
// and output, so checks and probes know how the group acts on both.
#pragma once

#include "eqnn/enums.h"
#include "eqnn/field.h"

namespace eqnn {

class EquivariantModule {
 public:
  virtual ~EquivariantModule() = default;
  virtual FieldType in_type() const = 0;
  virtual FieldType out_type() const = 0;
};

}  // namespace eqnn
