/// \file
/// The rotation and reflection groups of the plane that eqnn's layers are equivariant to: the
/// cyclic groups C_N and the dihedral groups D_N for any N (up to order 128), among them the
/// symmetries of the pixel grid C1, C2, C4 (p4), D1, D2 and D4 (p4m).
///
/// This is the one place that knows the element order and the composition (docs/conventions.md);
/// every kernel, layer, check and probe asks a Group. Elements are referred to by their index in
/// the group (0 = identity): index N m + r is M^m R_N^r, with R_N the rotation by 360/N degrees and
/// M the row mirror. For the grid groups this is their position in D4 index order.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "eqnn/detail/group_tables.h"

/// Group-equivariant layers, field types, checks and training helpers (the whole library).
namespace eqnn {

/// C_N (rotations by multiples of 360/N degrees) or D_N (those and N mirrors). A small value type:
/// copy it freely; groups compare equal when they have the same name. Functions that take an
/// element index throw unless it is in [0, order()).
///
/// An element whose rotation is a multiple of 90 degrees ("on the grid") acts on the pixel grid
/// exactly, by an index permutation; the others (C8's 45-degree rotation, ...) act on planes by
/// bilinear interpolation about the centre (rotate_bilinear), which is approximate; on_grid() tells
/// which is which, and the checks and probes label the interpolated ones.
class Group {
 public:
  /// The trivial group. Default-constructed groups are C1.
  Group() : Group(c1()) {}

  /// C_N: the rotations by 360 k / N degrees, k = 0..N-1. N in [1, 128].
  static Group cyclic(int64_t n);
  /// D_N: C_N and the mirrors M R_N^k, 2N elements. N in [1, 64]. D_N contains C_N as its first
  /// N elements.
  static Group dihedral(int64_t n);
  static Group c1();  ///< the trivial group: the identity only.
  static Group c2();  ///< the identity and the rotation by 180 degrees.
  static Group c4();  ///< p4: the four rotations by multiples of 90 degrees.
  static Group d1();  ///< the identity and the row mirror M.
  static Group d2();  ///< the identity, R^2, the row mirror M and the column mirror MR^2.
  static Group d4();  ///< p4m: rotations and mirrors, 8 elements.
  /// The grid groups, in the order c1, c2, c4, d1, d2, d4.
  static std::vector<Group> all();
  /// Case-insensitive: "c<N>", "d<N>" (N a whole number, e.g. "c8", "d16"), "p4" (= c4) and "p4m"
  /// (= d4). Throws for anything else, and for N out of range.
  static Group from_name(const std::string& name);

  /// The number of elements, |G|.
  int64_t order() const { return tables_.order; }
  /// N: the number of rotations.
  int64_t rotations() const { return tables_.rotations; }
  /// Canonical name: "C<N>" or "D<N>" ("C1", "C4", "D8", ...).
  const std::string& name() const { return name_; }
  /// The grid groups (N = 1, 2, 4) use D4's names, R the quarter turn: "e", "R", "R^2", "R^3",
  /// "M", "MR", "MR^2", "MR^3". Other groups name their elements after their own generator R_N:
  /// "e", "R", "R^2", ..., "M", "MR", "MR^2", ... (C8's "R^2" is the quarter turn).
  std::string element_name(int64_t element) const;
  /// The element's rotation angle in degrees, 360 r / N for M^m R_N^r, in [0, 360).
  double rotation_degrees(int64_t element) const;
  /// True for the mirrors M R_N^r.
  bool is_mirror(int64_t element) const;
  /// True when the element rotates by a multiple of 90 degrees, so that it permutes the pixel grid
  /// (its action on planes is exact); false when its plane action interpolates.
  bool on_grid(int64_t element) const;
  /// True when every element is on the grid: C1, C2, C4, D1, D2, D4.
  bool is_grid_group() const;
  /// Index in D4 (4m + q for M^m R^q, R the quarter turn) of an element on the grid; throws for an
  /// element whose rotation is not a multiple of 90 degrees.
  int d4_index(int64_t element) const;

  /// True when `sub` is a subgroup of this group as eqnn embeds it: C_M or D_M with M dividing N
  /// (D_M only into D_N), R_M = R_N^(N/M), the same mirror M (C4 in C8, D2 in D4, C8 in D8, ...).
  bool has_subgroup(const Group& sub) const;
  /// The index in this group of element `element` of the subgroup `sub`: M^m R_M^r -> M^m
  /// R_N^(r N/M). Throws unless has_subgroup(sub).
  int64_t embed(const Group& sub, int64_t element) const;

  /// The identity's index: 0.
  int64_t identity() const { return 0; }
  int64_t compose(int64_t a, int64_t b) const;  ///< index of h_a h_b
  int64_t inverse(int64_t a) const;             ///< index of h_a^-1
  /// table[a][b] = compose(a, b), |G| x |G|.
  std::vector<std::vector<int64_t>> cayley_table() const;
  /// True when some element rotates by 90 or 270 degrees (C4, D4, C8, ...).
  bool has_quarter_turns() const;
  /// True when some element rotates by an angle other than 0 and 180 degrees: its action needs
  /// square planes (C3, C4, C8, D4, ...).
  bool needs_square_planes() const;
  /// True when some element is a mirror (D_N).
  bool has_mirrors() const { return tables_.mirrors != 0; }

  /// (L_g f)(x) = f(g^-1 x) on the last two dims of x (rows, columns), about the plane's centre:
  /// an index permutation for elements on the grid, bilinear interpolation (zeros outside) for
  /// the others.
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
  Group(int64_t rotations, bool mirrors);
  void check_element(int64_t element, const char* what) const;

  std::string name_;
  detail::GroupTables tables_{};
};

/// Writes the name, with " (p4)" after C4 and " (p4m)" after D4.
std::ostream& operator<<(std::ostream& os, const Group& group);

}  // namespace eqnn
