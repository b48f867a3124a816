#include "eqnn/nn/group_pool.h"

namespace eqnn {
namespace {
constexpr const char* kWho = "eqnn::GroupPool";
}

GroupPoolImpl::GroupPoolImpl(GroupPoolOptions options_) : options(std::move(options_)) {
  reset();
}

void GroupPoolImpl::reset() {
  TORCH_CHECK(options.num_fields() == FieldType::kAnyFields || options.num_fields() > 0, kWho,
              ": num_fields must be positive (or kAnyFields), got ", options.num_fields());
}

void GroupPoolImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::GroupPool(" << options.group() << ", " << to_string(options.mode()) << ")";
}

torch::Tensor GroupPoolImpl::forward(const torch::Tensor& input) {
  in_type().check_input(input, kWho);
  const int64_t order = options.group().order();
  const torch::Tensor grouped =
      input.reshape({input.size(0), input.size(1) / order, order, input.size(2), input.size(3)});
  return options.mode() == PoolMode::Max ? std::get<0>(grouped.max(2)) : grouped.mean(2);
}

FieldType GroupPoolImpl::in_type() const {
  return FieldType::regular(options.group(), options.num_fields());
}

FieldType GroupPoolImpl::out_type() const {
  return FieldType::trivial(options.group(), options.num_fields());
}

}  // namespace eqnn
