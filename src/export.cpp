#include "eqnn/export.h"

#include "eqnn/nn/equivariant_module.h"

namespace eqnn {

torch::nn::Sequential export_sequential(const torch::nn::Sequential& sequential) {
  torch::nn::Sequential out;
  for (const auto& child : *sequential) {
    if (const auto* eq = dynamic_cast<const EquivariantModule*>(child.ptr().get())) {
      for (const auto& exported : *eq->export_module()) out->push_back(exported);
    } else {
      out->push_back(child.clone());
    }
  }
  out->train(sequential->is_training());
  return out;
}

}  // namespace eqnn
