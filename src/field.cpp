#include "eqnn/field.h"

#include <c10/util/Exception.h>

#include <sstream>

namespace eqnn {

FieldType FieldType::regular(Group group, int64_t num_fields) {
  TORCH_CHECK(num_fields == kAnyFields || num_fields > 0,
              "eqnn::FieldType::regular: the number of fields must be positive, got ", num_fields);
  return FieldType{std::move(group), FieldKind::Regular, num_fields};
}

FieldType FieldType::trivial(Group group, int64_t num_fields) {
  TORCH_CHECK(num_fields == kAnyFields || num_fields > 0,
              "eqnn::FieldType::trivial: the number of fields must be positive, got ", num_fields);
  return FieldType{std::move(group), FieldKind::Trivial, num_fields};
}

int64_t FieldType::channels() const {
  return any_fields() ? kAnyFields : num_fields * channels_per_field();
}

torch::Tensor FieldType::act(const torch::Tensor& x, int64_t element) const {
  return kind == FieldKind::Regular ? group.act_on_regular(x, element)
                                    : group.act_on_trivial(x, element);
}

void FieldType::check_input(const torch::Tensor& x, const std::string& who) const {
  TORCH_CHECK(x.defined(), who, ": expected a defined tensor");
  TORCH_CHECK(x.dim() == 4, who, ": expected a 4-D input (batch, channels, height, width) of ",
              str(), ", got a tensor of shape ", x.sizes());
  TORCH_CHECK(x.is_floating_point(), who, ": expected a floating-point input, got ",
              x.scalar_type());
  const int64_t c = x.size(1);
  if (any_fields()) {
    TORCH_CHECK(c % channels_per_field() == 0, who, ": expected regular ", group.name(),
                " fields (a multiple of ", channels_per_field(), " channels), got ", c,
                " channels");
  } else {
    TORCH_CHECK(c == channels(), who, ": expected ", str(), ", got ", c, " channels (input shape ",
                x.sizes(), ")");
  }
}

std::string FieldType::str() const {
  std::ostringstream os;
  const char* kind_name = kind == FieldKind::Regular ? "regular" : "trivial";
  if (any_fields()) {
    os << "any number of " << kind_name << " " << group.name() << " fields";
  } else {
    os << num_fields << " " << kind_name << " " << group.name() << " field"
       << (num_fields == 1 ? "" : "s") << " (" << channels() << " channel"
       << (channels() == 1 ? "" : "s") << ")";
  }
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const FieldType& type) {
  return os << type.str();
}

}  // namespace eqnn
