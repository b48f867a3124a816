#include "eqnn/group.h"

#include "eqnn/ops.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cctype>

namespace eqnn {

Group::Group(std::string name, std::vector<int> d4_elements) : name_(std::move(name)) {
  tables_.order = static_cast<int>(d4_elements.size());
  int position[detail::kMaxGroupOrder];
  std::fill(position, position + detail::kMaxGroupOrder, -1);
  for (int t = 0; t < tables_.order; ++t) {
    tables_.d4_index[t] = static_cast<int8_t>(d4_elements[t]);
    position[d4_elements[t]] = t;
  }
  for (int a = 0; a < tables_.order; ++a) {
    tables_.inverse[a] = static_cast<int8_t>(position[detail::d4_inverse(d4_elements[a])]);
    for (int b = 0; b < tables_.order; ++b) {
      const int p = position[detail::d4_compose(d4_elements[a], d4_elements[b])];
      TORCH_INTERNAL_ASSERT(p >= 0, "eqnn::Group ", name_, " is not closed under composition");
      tables_.cayley[a][b] = static_cast<int8_t>(p);
    }
  }
}

Group Group::c1() {
  return Group("C1", {0});
}
Group Group::c2() {
  return Group("C2", {0, 2});
}
Group Group::c4() {
  return Group("C4", {0, 1, 2, 3});
}
Group Group::d1() {
  return Group("D1", {0, 4});
}
Group Group::d2() {
  return Group("D2", {0, 2, 4, 6});
}
Group Group::d4() {
  return Group("D4", {0, 1, 2, 3, 4, 5, 6, 7});
}

std::vector<Group> Group::all() {
  return {c1(), c2(), c4(), d1(), d2(), d4()};
}

Group Group::from_name(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (key == "c1") return c1();
  if (key == "c2") return c2();
  if (key == "c4" || key == "p4") return c4();
  if (key == "d1") return d1();
  if (key == "d2") return d2();
  if (key == "d4" || key == "p4m") return d4();
  TORCH_CHECK(false, "eqnn::Group::from_name: unknown group '", name,
              "'; expected one of c1, c2, c4 (p4), d1, d2, d4 (p4m)");
}

void Group::check_element(int64_t element, const char* what) const {
  TORCH_CHECK(element >= 0 && element < order(), "eqnn::Group::", what, ": element index ", element,
              " is out of range for ", name_, " (order ", order(), ")");
}

std::string Group::element_name(int64_t element) const {
  check_element(element, "element_name");
  static const char* const kNames[] = {"e", "R", "R^2", "R^3", "M", "MR", "MR^2", "MR^3"};
  return kNames[tables_.d4_index[element]];
}

int Group::d4_index(int64_t element) const {
  check_element(element, "d4_index");
  return tables_.d4_index[element];
}

int64_t Group::compose(int64_t a, int64_t b) const {
  check_element(a, "compose");
  check_element(b, "compose");
  return tables_.cayley[a][b];
}

int64_t Group::inverse(int64_t a) const {
  check_element(a, "inverse");
  return tables_.inverse[a];
}

std::vector<std::vector<int64_t>> Group::cayley_table() const {
  std::vector<std::vector<int64_t>> table(order(), std::vector<int64_t>(order()));
  for (int64_t a = 0; a < order(); ++a)
    for (int64_t b = 0; b < order(); ++b)
      table[a][b] = tables_.cayley[a][b];
  return table;
}

bool Group::has_quarter_turns() const {
  for (int t = 0; t < order(); ++t)
    if (detail::d4_rotation(tables_.d4_index[t]) % 2 == 1) return true;
  return false;
}

bool Group::has_mirrors() const {
  for (int t = 0; t < order(); ++t)
    if (detail::d4_mirror(tables_.d4_index[t])) return true;
  return false;
}

torch::Tensor Group::act_on_plane(const torch::Tensor& x, int64_t element) const {
  check_element(element, "act_on_plane");
  TORCH_CHECK(x.dim() >= 2, "eqnn::Group::act_on_plane: expected a tensor whose last two dims are ",
              "the plane, got a tensor of rank ", x.dim());
  const int g = tables_.d4_index[element];
  const int r = detail::d4_rotation(g);
  TORCH_CHECK(r % 2 == 0 || x.size(-1) == x.size(-2), "eqnn::Group::act_on_plane: element ",
              element_name(element), " of ", name_,
              " rotates by 90 degrees and needs a square plane, got ", x.size(-2), "x", x.size(-1));
  // L_{M^m R^r} = L_M^m L_R^r: rotate first, then mirror the rows.
  torch::Tensor y = r == 0 ? x : at::rot90(x, r, {-2, -1});
  if (detail::d4_mirror(g)) y = at::flip(y, {-2});
  return y;
}

torch::Tensor Group::regular_permutation(int64_t element) const {
  check_element(element, "regular_permutation");
  std::vector<int64_t> perm(order());
  const int inv = tables_.inverse[element];
  for (int t = 0; t < order(); ++t)
    perm[t] = tables_.cayley[inv][t];
  return torch::tensor(perm, torch::kLong);
}

torch::Tensor Group::act_on_regular(const torch::Tensor& x, int64_t element) const {
  check_element(element, "act_on_regular");
  return ops::group_action(x, *this, {element}, FieldKind::Regular);
}

torch::Tensor Group::act_on_trivial(const torch::Tensor& x, int64_t element) const {
  check_element(element, "act_on_trivial");
  return ops::group_action(x, *this, {element}, FieldKind::Trivial);
}

std::ostream& operator<<(std::ostream& os, const Group& group) {
  os << group.name();
  if (group.name() == "C4") os << " (p4)";
  if (group.name() == "D4") os << " (p4m)";
  return os;
}

}  // namespace eqnn
