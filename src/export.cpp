#include "eqnn/export.h"

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

torch::nn::Sequential export_sequential(const torch::nn::Sequential& sequential) {
  torch::nn::Sequential out;
  for (const auto& child : *sequential) {
    if (const auto* eq = dynamic_cast<const EquivariantModule*>(child.ptr().get())) {
      const torch::nn::Sequential exported = eq->export_module();  // keep it alive while iterating
      for (const auto& module : *exported)
        out->push_back(module);
    } else {
      out->push_back(child.clone());
    }
  }
  out->train(sequential->is_training());
  return out;
}

}  // namespace eqnn
