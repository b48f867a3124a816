/// \file
/// The interface every eqnn layer implements next to torch::nn::Module: the field types of its
/// input and output, so checks and probes know how the group acts on both.
#pragma once

#include <torch/nn/modules/container/sequential.h>

#include "eqnn/enums.h"
#include "eqnn/field.h"
#include "eqnn/threads.h"

namespace eqnn {

/// Implemented by every eqnn layer, next to torch::nn::Module: check_equivariance, the probes and
/// export_sequential use it.
class EquivariantModule {
 public:
  virtual ~EquivariantModule() = default;
  /// How the group acts on the layer's input (B, C, H, W).
  virtual FieldType in_type() const = 0;
  /// How the group acts on the layer's output.
  virtual FieldType out_type() const = 0;
  /// The output's type for an input of type `in` (used by infer_field_types when in_type() leaves
  /// the number of fields open): out_type(), with the input's field count when both leave it open.
  /// Layers that change the number of fields (RestrictFields) override it.
  virtual FieldType out_type_for(const FieldType& in) const {
    FieldType out = out_type();
    if (out.any_fields() && !in.any_fields() && in_type().any_fields())
      out.num_fields = in.num_fields;
    return out;
  }
  /// Plain LibTorch modules computing the same function with the current parameters (a copy: later
  /// changes to this module do not affect it), for deployment without eqnn; a Sequential because
  /// some layers need a few modules. ("export" is a C++ keyword, hence the name.)
  virtual torch::nn::Sequential export_module() const = 0;

 protected:
  /// Every layer applies the library's default process settings (threads.h: the allocator tuning,
  /// unless opted out) when it is built.
  EquivariantModule() { apply_default_allocator_tuning(); }
  /// Copies (clone()) find the settings applied already.
  EquivariantModule(const EquivariantModule&) = default;
  /// As the copy constructor.
  EquivariantModule& operator=(const EquivariantModule&) = default;
};

}  // namespace eqnn
