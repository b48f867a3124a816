/// \file
/// The symmetry groups of the pixel grid: the subgroups C1, C2, C4 (p4), D1, D2 and D4 (p4m) of D4.
///
/// This is the one place that knows the element order and the composition (docs/conventions.md);
/// every kernel, layer, check and probe asks a Group. Elements are referred to by their index in
/// the group (0 = identity), which is their position in D4 index order.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "eqnn/detail/group_tables.h"

/// Group-equivariant layers, field types, checks and training helpers (the whole library).
namespace eqnn {

/// One of the subgroups C1, C2, C4, D1, D2, D4 of D4, the symmetries of the pixel grid. A small
/// value type: copy it freely; groups compare equal when they have the same name. Functions that
/// take an element index throw unless it is in [0, order()).
class Group {
 public:
  /// The trivial group. Default-constructed groups are C1.
  Group() : Group(c1()) {}

  static Group c1();  ///< the trivial group: the identity only.
  static Group c2();  ///< the identity and the rotation by 180 degrees.
  static Group c4();  ///< p4: the four rotations by multiples of 90 degrees.
  static Group d1();  ///< the identity and the row mirror M.
  static Group d2();  ///< the identity, R^2, the row mirror M and the column mirror MR^2.
  static Group d4();  ///< p4m: rotations and mirrors, 8 elements.
  /// Every group above, in the order c1, c2, c4, d1, d2, d4.
  static std::vector<Group> all();
  /// Case-insensitive: "c1", "c2", "c4", "p4", "d1", "d2", "d4", "p4m". Throws for anything else.
  static Group from_name(const std::string& name);

  /// The number of elements, |G|.
  int64_t order() const { return tables_.order; }
  /// Canonical name: "C1", "C2", "C4", "D1", "D2", "D4".
  const std::string& name() const { return name_; }
  /// "e", "R", "R^2", "R^3", "M", "MR", "MR^2", "MR^3" (as elements of D4).
  std::string element_name(int64_t element) const;
  /// Index of this element in D4 (4m + r for M^m R^r).
  int d4_index(int64_t element) const;

  /// The identity's index: 0.
  int64_t identity() const { return 0; }
  int64_t compose(int64_t a, int64_t b) const;  ///< index of h_a h_b
  int64_t inverse(int64_t a) const;             ///< index of h_a^-1
  /// table[a][b] = compose(a, b), |G| x |G|.
  std::vector<std::vector<int64_t>> cayley_table() const;
  /// True when some element rotates by 90 degrees (C4, D4): its action needs square planes.
  bool has_quarter_turns() const;
  /// True when some element is a mirror (D1, D2, D4).
  bool has_mirrors() const;

  /// (L_g f)(x) = f(g^-1 x) on the last two dims of x (rows, columns), about the plane's centre.
  torch::Tensor act_on_plane(const torch::Tensor& x, int64_t element) const;
  /// Action on regular fields: x is (..., F * |G|, H, W) or (B, F * |G|) (no plane);
  /// (L_g f)[c, t](x) = f[c, idx(g^-1 h_t)](g^-1 x).
  torch::Tensor act_on_regular(const torch::Tensor& x, int64_t element) const;
  /// Action on trivial fields: moves the plane only; a tensor without a plane, (B, C), is
  /// invariant.
  torch::Tensor act_on_trivial(const torch::Tensor& x, int64_t element) const;
  /// perm[t] = idx(g^-1 h_t): the group-axis gather of the regular action, as an int64 tensor.
  torch::Tensor regular_permutation(int64_t element) const;

  /// The tables passed to kernels.
  const detail::GroupTables& tables() const { return tables_; }

  /// The same group (same name).
  friend bool operator==(const Group& a, const Group& b) { return a.name_ == b.name_; }
  /// Not operator==.
  friend bool operator!=(const Group& a, const Group& b) { return !(a == b); }

 private:
  Group(std::string name, std::vector<int> d4_elements);
  void check_element(int64_t element, const char* what) const;

  std::string name_;
  detail::GroupTables tables_{};
};

/// Writes the name, with " (p4)" after C4 and " (p4m)" after D4.
std::ostream& operator<<(std::ostream& os, const Group& group);

}  // namespace eqnn
