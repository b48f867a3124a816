#include "eqnn/group.h"

#include "eqnn/ops.h"
#include "eqnn/plane_rotation.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace eqnn {

Group::Group(int64_t rotations, bool mirrors) {
  tables_.rotations = static_cast<int>(rotations);
  tables_.mirrors = mirrors ? 1 : 0;
  tables_.order = static_cast<int>(rotations * (mirrors ? 2 : 1));
  name_ = (mirrors ? "D" : "C") + std::to_string(rotations);
}

Group Group::cyclic(int64_t n) {
  TORCH_CHECK(n >= 1 && n <= detail::kMaxGroupOrder, "eqnn::Group::cyclic: N must be in [1, ",
              detail::kMaxGroupOrder, "], got ", n);
  return Group(n, false);
}

Group Group::dihedral(int64_t n) {
  TORCH_CHECK(n >= 1 && 2 * n <= detail::kMaxGroupOrder, "eqnn::Group::dihedral: N must be in [1, ",
              detail::kMaxGroupOrder / 2, "], got ", n);
  return Group(n, true);
}

Group Group::c1() {
  return cyclic(1);
}
Group Group::c2() {
  return cyclic(2);
}
Group Group::c4() {
  return cyclic(4);
}
Group Group::d1() {
  return dihedral(1);
}
Group Group::d2() {
  return dihedral(2);
}
Group Group::d4() {
  return dihedral(4);
}

std::vector<Group> Group::all() {
  return {c1(), c2(), c4(), d1(), d2(), d4()};
}

Group Group::from_name(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (key == "p4") return c4();
  if (key == "p4m") return d4();
  const bool digits =
      key.size() >= 2 && key.size() <= 5 &&
      std::all_of(key.begin() + 1, key.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  if (digits && key[1] != '0' && (key[0] == 'c' || key[0] == 'd')) {
    const int64_t n = std::stoll(key.substr(1));
    const int64_t largest = key[0] == 'c' ? detail::kMaxGroupOrder : detail::kMaxGroupOrder / 2;
    TORCH_CHECK(n <= largest, "eqnn::Group::from_name: '", name, "' is too large; ",
                key[0] == 'c' ? "C" : "D", "_N takes N up to ", largest);
    return key[0] == 'c' ? cyclic(n) : dihedral(n);
  }
  TORCH_CHECK(false, "eqnn::Group::from_name: unknown group '", name,
              "'; expected c<N> or d<N> for a whole N >= 1 (e.g. c4, d8), p4 (= c4) or p4m (= d4)");
}

void Group::check_element(int64_t element, const char* what) const {
  TORCH_CHECK(element >= 0 && element < order(), "eqnn::Group::", what, ": element index ", element,
              " is out of range for ", name_, " (order ", order(), ")");
}

std::string Group::element_name(int64_t element) const {
  check_element(element, "element_name");
  if (is_grid_group()) {
    static const char* const kNames[] = {"e", "R", "R^2", "R^3", "M", "MR", "MR^2", "MR^3"};
    return kNames[tables_.grid_index(static_cast<int>(element))];
  }
  const int r = tables_.rotation_of(static_cast<int>(element));
  const std::string mirror = tables_.mirror_of(static_cast<int>(element)) ? "M" : "";
  if (r == 0) return mirror.empty() ? "e" : mirror;
  return mirror + (r == 1 ? std::string("R") : "R^" + std::to_string(r));
}

double Group::rotation_degrees(int64_t element) const {
  check_element(element, "rotation_degrees");
  return 360.0 * tables_.rotation_of(static_cast<int>(element)) / tables_.rotations;
}

bool Group::is_mirror(int64_t element) const {
  check_element(element, "is_mirror");
  return tables_.mirror_of(static_cast<int>(element)) != 0;
}

bool Group::on_grid(int64_t element) const {
  check_element(element, "on_grid");
  return tables_.on_grid(static_cast<int>(element));
}

bool Group::is_grid_group() const {
  return 4 % tables_.rotations == 0;
}

int Group::d4_index(int64_t element) const {
  check_element(element, "d4_index");
  TORCH_CHECK(on_grid(element), "eqnn::Group::d4_index: element ", element_name(element), " of ",
              name_, " rotates by ", rotation_degrees(element),
              " degrees, not a multiple of 90: it is not an element of D4");
  return tables_.grid_index(static_cast<int>(element));
}

bool Group::has_subgroup(const Group& sub) const {
  return rotations() % sub.rotations() == 0 && (!sub.has_mirrors() || has_mirrors());
}

int64_t Group::embed(const Group& sub, int64_t element) const {
  TORCH_CHECK(has_subgroup(sub), "eqnn::Group::embed: ", sub.name(), " is not a subgroup of ",
              name_, " (C_M and D_M embed into C_N and D_N when M divides N, D_M only into D_N)");
  sub.check_element(element, "embed");
  const int64_t r =
      sub.tables_.rotation_of(static_cast<int>(element)) * (rotations() / sub.rotations());
  return sub.tables_.mirror_of(static_cast<int>(element)) * rotations() + r;
}

int64_t Group::compose(int64_t a, int64_t b) const {
  check_element(a, "compose");
  check_element(b, "compose");
  return tables_.compose(static_cast<int>(a), static_cast<int>(b));
}

int64_t Group::inverse(int64_t a) const {
  check_element(a, "inverse");
  return tables_.inverse(static_cast<int>(a));
}

std::vector<std::vector<int64_t>> Group::cayley_table() const {
  std::vector<std::vector<int64_t>> table(order(), std::vector<int64_t>(order()));
  for (int a = 0; a < order(); ++a)
    for (int b = 0; b < order(); ++b)
      table[a][b] = tables_.compose(a, b);
  return table;
}

bool Group::has_quarter_turns() const {
  return tables_.rotations % 4 == 0;
}

bool Group::needs_square_planes() const {
  return tables_.rotations > 2;
}

torch::Tensor Group::act_on_plane(const torch::Tensor& x, int64_t element) const {
  check_element(element, "act_on_plane");
  TORCH_CHECK(x.dim() >= 2, "eqnn::Group::act_on_plane: expected a tensor whose last two dims are ",
              "the plane, got a tensor of rank ", x.dim());
  const int t = static_cast<int>(element);
  if (!tables_.on_grid(t)) {
    TORCH_CHECK(x.size(-1) == x.size(-2), "eqnn::Group::act_on_plane: element ",
                element_name(element), " of ", name_, " rotates by ", rotation_degrees(element),
                " degrees and needs a square plane, got ", x.size(-2), "x", x.size(-1));
    // L_{M R^r} = L_M L_R^r: rotate (interpolated) first, then mirror the rows (exact).
    torch::Tensor y = rotate_bilinear(x, rotation_degrees(element));
    return tables_.mirror_of(t) ? at::flip(y, {-2}) : y;
  }
  const int g = tables_.grid_index(t);
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
  for (int t = 0; t < order(); ++t)
    perm[t] = tables_.left_divide(static_cast<int>(element), t);
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
  if (group == Group::c4()) os << " (p4)";
  if (group == Group::d4()) os << " (p4m)";
  return os;
}

}  // namespace eqnn
