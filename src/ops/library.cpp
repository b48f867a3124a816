// The eqnn operator library: schemas of the custom ops, callable from C++ (eqnn::ops), through the
// dispatcher and from TorchScript (torch.ops.eqnn.*). CPU, CUDA and Autograd implementations are
// registered next to each kernel (src/ops/*.cpp).
#include <torch/library.h>

TORCH_LIBRARY(eqnn, m) {
  // Filter expansion; group is a name accepted by eqnn::Group::from_name.
  m.def("expand_filter(Tensor weight, str group, bool lifting) -> Tensor");
  m.def("expand_filter_backward(Tensor grad, str group, int[] weight_shape) -> Tensor");
  // Steerable filters: coefficients (Cout, Cin[, |G|], nb) and a sampled basis (|G|, nb, k, k).
  m.def("steerable_filter(Tensor coefficients, Tensor basis, str group) -> Tensor");
  m.def(
      "steerable_filter_backward(Tensor grad, Tensor basis, str group, int[] coefficient_shape) "
      "-> Tensor");
  // Pooling over the group axis of regular fields; argmax (uint8) is empty for mean pooling.
  m.def("group_pool(Tensor x, int order, bool max) -> (Tensor, Tensor)");
  m.def("group_pool_backward(Tensor grad, Tensor argmax, int order, bool max) -> Tensor");
  // The action of several group elements at once: (B, C, H, W) -> (K * B, C, H, W).
  m.def("group_action(Tensor x, str group, int[] elements, bool regular) -> Tensor");
  m.def("group_action_backward(Tensor grad, str group, int[] elements, bool regular) -> Tensor");
}
