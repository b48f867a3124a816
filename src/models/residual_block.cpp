#include "eqnn/models/residual_block.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/modules/activation.h>

#include "eqnn/nn/output_observer.h"

namespace eqnn {
namespace models {

namespace {
constexpr const char* kResidualBlockWho = "eqnn::models::ResidualBlock";
}  // namespace

ResidualBlockImpl::ResidualBlockImpl(ResidualBlockOptions options_) : options(std::move(options_)) {
  reset();
}

void ResidualBlockImpl::reset() {
  const ResidualBlockOptions& o = options;
  TORCH_CHECK(o.in_fields() > 0 && o.out_fields() > 0, kResidualBlockWho,
              ": field counts must be positive, got in_fields ", o.in_fields(), " and out_fields ",
              o.out_fields());
  TORCH_CHECK(o.stride() >= 1, kResidualBlockWho, ": stride must be >= 1, got ", o.stride());
  TORCH_CHECK(o.kernel_size() > 0 && o.kernel_size() % 2 == 1, kResidualBlockWho,
              ": kernel_size must be odd (same padding), got ", o.kernel_size());
  const Group& g = o.group();
  const int64_t k = o.kernel_size();
  // No bias before batch norm: it would be removed by the normalisation.
  conv1 =
      register_module("conv1", GroupConv2d(GroupConv2dOptions(g, o.in_fields(), o.out_fields(), k)
                                               .stride(o.stride())
                                               .padding(k / 2)
                                               .bias(false)));
  bn1 = register_module("bn1", GroupBatchNorm2d(g, o.out_fields()));
  conv2 = register_module(
      "conv2",
      GroupConv2d(
          GroupConv2dOptions(g, o.out_fields(), o.out_fields(), k).padding(k / 2).bias(false)));
  bn2 = register_module("bn2", GroupBatchNorm2d(g, o.out_fields()));
  if (o.stride() != 1 || o.in_fields() != o.out_fields()) {
    downsample = register_module(
        "downsample",
        torch::nn::Sequential(GroupConv2d(GroupConv2dOptions(g, o.in_fields(), o.out_fields(), 1)
                                              .stride(o.stride())
                                              .bias(false)),
                              GroupBatchNorm2d(g, o.out_fields())));
  } else {
    downsample = nullptr;
  }
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& input) {
  in_type().check_input(input, kResidualBlockWho);
  const torch::Tensor main = bn2(conv2(torch::relu(bn1(conv1(input)))));
  const torch::Tensor skip = downsample ? downsample->forward(input) : input;
  return report_output(*this, torch::relu(main + skip));
}

void ResidualBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::models::ResidualBlock(" << options.group() << ", " << options.in_fields()
         << " -> " << options.out_fields() << " fields, kernel_size=" << options.kernel_size()
         << ", stride=" << options.stride() << ")";
}

FieldType ResidualBlockImpl::in_type() const {
  return FieldType::regular(options.group(), options.in_fields());
}

FieldType ResidualBlockImpl::out_type() const {
  return FieldType::regular(options.group(), options.out_fields());
}

torch::nn::Sequential ResidualBlockImpl::export_module() const {
  // Appends the export of each part (kept in a local: a range-for over the dereferenced
  // temporary would outlive it).
  auto append = [](torch::nn::Sequential& to, const EquivariantModule& part) {
    const torch::nn::Sequential exported = part.export_module();
    for (const auto& m : *exported)
      to->push_back(m);
  };
  torch::nn::Sequential main, skip;
  append(main, *conv1);
  append(main, *bn1);
  main->push_back(torch::nn::ReLU());
  append(main, *conv2);
  append(main, *bn2);
  if (downsample)
    for (const auto& child : downsample->children())
      append(skip, dynamic_cast<const EquivariantModule&>(*child));
  return torch::nn::Sequential(PlainResidual(main, skip));
}

PlainResidualImpl::PlainResidualImpl(torch::nn::Sequential main_, torch::nn::Sequential skip_)
    : main(std::move(main_)), skip(std::move(skip_)) {
  reset();
}

void PlainResidualImpl::reset() {
  // Own copies, so that clone() (which calls reset() on a member-wise copy) is deep.
  main = register_module(
      "main",
      torch::nn::Sequential(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(main->clone())));
  skip = register_module(
      "skip",
      torch::nn::Sequential(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(skip->clone())));
}

torch::Tensor PlainResidualImpl::forward(const torch::Tensor& input) {
  const torch::Tensor skipped = skip->is_empty() ? input : skip->forward(input);
  return torch::relu(main->forward(input) + skipped);
}

}  // namespace models
}  // namespace eqnn
