#include "eqnn/nn/group_pool.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "eqnn/nn/output_observer.h"
#include "eqnn/ops.h"

namespace eqnn {
namespace {
constexpr const char* kGroupPoolWho = "eqnn::GroupPool";
}

GroupPoolImpl::GroupPoolImpl(GroupPoolOptions options_) : options(std::move(options_)) {
  reset();
}

void GroupPoolImpl::reset() {
  TORCH_CHECK(options.num_fields() == FieldType::kAnyFields || options.num_fields() > 0,
              kGroupPoolWho, ": num_fields must be positive (or kAnyFields), got ",
              options.num_fields());
}

void GroupPoolImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::GroupPool(" << options.group() << ", " << to_string(options.mode()) << ")";
}

torch::Tensor GroupPoolImpl::forward(const torch::Tensor& input) {
  in_type().check_input(input, kGroupPoolWho);
  return report_output(*this, ops::group_pool(input, options.group(), options.mode()));
}

torch::nn::Sequential GroupPoolImpl::export_module() const {
  namespace nn = torch::nn;
  const int64_t g = options.group().order();
  nn::Sequential seq(nn::Unflatten(nn::UnflattenOptions(1, {-1, g})));
  if (options.mode() == PoolMode::Max) {
    seq->push_back(nn::MaxPool3d(nn::MaxPool3dOptions({g, 1, 1})));
  } else {
    seq->push_back(nn::AvgPool3d(nn::AvgPool3dOptions({g, 1, 1})));
  }
  seq->push_back(nn::Flatten(nn::FlattenOptions().start_dim(1).end_dim(2)));
  return seq;
}

FieldType GroupPoolImpl::in_type() const {
  return FieldType::regular(options.group(), options.num_fields());
}

FieldType GroupPoolImpl::out_type() const {
  return FieldType::trivial(options.group(), options.num_fields());
}

}  // namespace eqnn
