// The index math of the groups C_N and D_N, shared by CPU code and CUDA kernels (no LibTorch here).
//
// Conventions (docs/conventions.md): R_N is the rotation by 360/N degrees, counter-clockwise as
// displayed, and M the mirror M(u, v) = (-u, v) on (row, column) offsets from the centre. An
// element of D_N is M^m R_N^r with index t = N m + r (C_N: m = 0). Composition follows from
// R M = M R^-1:
//   (M^a R^r)(M^b R^s) = M^(a+b mod 2) R^(((-1)^b r + s) mod N).
// The grid groups C1, C2, C4, D1, D2, D4 are the cases N = 1, 2, 4; their elements in this order
// are the subgroups of D4 in D4 index order (4m + q for M^m R^q, R the quarter turn), so an element
// whose rotation is a multiple of 90 degrees has a "grid index" in D4, and acts on the pixel grid
// by an index permutation (plane_source below).
#pragma once

#include <cstdint>

#include "eqnn/detail/macros.h"

namespace eqnn {
namespace detail {

/// The largest order of a group (C_128 or D_64): group indices fit in int8_t.
constexpr int kMaxGroupOrder = 128;

EQNN_HOST_DEVICE constexpr int d4_mirror(int d4) {
  return d4 >> 2;
}
EQNN_HOST_DEVICE constexpr int d4_rotation(int d4) {
  return d4 & 3;
}

/// D4 index of (M^a R^r)(M^b R^s).
EQNN_HOST_DEVICE constexpr int d4_compose(int g, int h) {
  return 4 * ((d4_mirror(g) + d4_mirror(h)) & 1) +
         (((d4_mirror(h) ? -d4_rotation(g) : d4_rotation(g)) + d4_rotation(h) + 4) & 3);
}

/// D4 index of the inverse: (R^r)^-1 = R^-r, and every reflection M R^r is an involution.
EQNN_HOST_DEVICE constexpr int d4_inverse(int g) {
  return d4_mirror(g) ? g : ((4 - d4_rotation(g)) & 3);
}

/// Where the element with D4 index g^-1 sends pixel (i, j) of an rows x cols plane, i.e. the
/// source pixel of (L_g f)(i, j) = f(g^-1 (i, j)). Rotations by odd multiples of 90 degrees need a
/// square plane (rows == cols); callers check that.
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void plane_source(int g, int64_t rows, int64_t cols, int64_t i,
                                                     int64_t j, int64_t* si, int64_t* sj) {
  // g^-1 = (M^m R^r)^-1 = R^-r M^m: mirror first (row flip), then rotate by -90 degrees r times.
  if (d4_mirror(g)) i = rows - 1 - i;
  switch (d4_rotation(g)) {
    case 0:
      *si = i;
      *sj = j;
      break;
    case 1:  // R^-1 (u, v) = (v, -u)
      *si = j;
      *sj = rows - 1 - i;
      break;
    case 2:  // R^-2 (u, v) = (-u, -v)
      *si = rows - 1 - i;
      *sj = cols - 1 - j;
      break;
    default:  // R^-3 (u, v) = (-v, u)
      *si = cols - 1 - j;
      *sj = i;
      break;
  }
}

/// Everything a kernel needs to know about C_N or D_N, passed by value (three ints: composition is
/// arithmetic, so no table and no device allocation is needed).
struct GroupTables {
  int rotations;  // N
  int mirrors;    // 1 for D_N, 0 for C_N
  int order;      // N * (1 + mirrors)

  EQNN_HOST_DEVICE int mirror_of(int t) const { return t / rotations; }
  EQNN_HOST_DEVICE int rotation_of(int t) const { return t % rotations; }
  /// Index of h_a h_b.
  EQNN_HOST_DEVICE int compose(int a, int b) const {
    const int ma = a / rotations, ra = a % rotations, mb = b / rotations, rb = b % rotations;
    return rotations * ((ma + mb) & 1) + ((mb ? rotations - ra : ra) + rb) % rotations;
  }
  /// Index of h_a^-1: (R^r)^-1 = R^-r, and every reflection M R^r is an involution.
  EQNN_HOST_DEVICE int inverse(int a) const {
    return a >= rotations ? a : (rotations - a) % rotations;
  }
  /// Index of h_a^-1 h_b.
  EQNN_HOST_DEVICE int left_divide(int a, int b) const { return compose(inverse(a), b); }
  /// True when h_t rotates by a multiple of 90 degrees: it permutes the pixel grid.
  EQNN_HOST_DEVICE bool on_grid(int t) const { return (4 * rotation_of(t)) % rotations == 0; }
  /// D4 index 4m + q of an element M^m R_N^r on the grid (r / N = q / 4); -1 for the others.
  EQNN_HOST_DEVICE int grid_index(int t) const {
    return on_grid(t) ? 4 * mirror_of(t) + 4 * rotation_of(t) / rotations : -1;
  }
};

}  // namespace detail
}  // namespace eqnn
