// A downstream program built against the installed package: the network from README.md, checked
// for invariance. Exits non-zero on failure.
#include <eqnn/eqnn.h>
#include <torch/torch.h>

#include <iostream>

int main() {
  const auto p4m = eqnn::Group::from_name("p4m");
  torch::nn::Sequential net(
      eqnn::LiftingConv2d(eqnn::LiftingConv2dOptions(p4m, 1, 8, 3).padding(1)),
      eqnn::GroupBatchNorm2d(eqnn::GroupBatchNorm2dOptions(p4m, 8)), torch::nn::ReLU(),
      eqnn::GroupConv2d(eqnn::GroupConv2dOptions(p4m, 8, 16, 3).padding(1)),
      eqnn::SpatialPool2d(eqnn::SpatialPool2dOptions(p4m, 2)), eqnn::GroupPool(p4m),
      eqnn::GlobalAvgPool2d(
          eqnn::GlobalAvgPool2dOptions(eqnn::FieldType::trivial(p4m, 16)).flatten(true)),
      torch::nn::Linear(16, 10));

  const auto report = eqnn::check_equivariance(net, torch::randn({4, 1, 28, 28}));
  std::cout << "consumer (eqnn " << EQNN_VERSION_STRING << "): " << report.str();
  return report.passed() ? 0 : 1;
}
