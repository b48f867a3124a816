// The index math of the subgroups of D4, shared by CPU code and CUDA kernels (no LibTorch here).
//
// Conventions (docs/conventions.md): an element of D4 is M^m R^r with D4 index 4m + r, where R is
// the rotation by 90 degrees, R(u, v) = (-v, u), and M the mirror M(u, v) = (-u, v) on (row,
// column) offsets from the centre. Composition follows from R M = M R^-1:
//   (M^a R^r)(M^b R^s) = M^(a+b mod 2) R^(((-1)^b r + s) mod 4).
// A subgroup lists its elements in D4 index order; "subgroup index" t means the t-th of them.
#pragma once

#include <cstdint>

#include "eqnn/detail/macros.h"

namespace eqnn {
namespace detail {

constexpr int kMaxGroupOrder = 8;

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

/// Everything a kernel needs to know about a subgroup of D4, passed by value (fits in kernel
/// parameter space, so no device allocation is needed).
struct GroupTables {
  int order;
  int8_t d4_index[kMaxGroupOrder];                // subgroup index -> D4 index
  int8_t inverse[kMaxGroupOrder];                 // subgroup index -> subgroup index of the inverse
  int8_t cayley[kMaxGroupOrder][kMaxGroupOrder];  // cayley[a][b] = index of h_a h_b

  EQNN_HOST_DEVICE int compose(int a, int b) const { return cayley[a][b]; }
  /// Subgroup index of h_a^-1 h_b.
  EQNN_HOST_DEVICE int left_divide(int a, int b) const { return cayley[inverse[a]][b]; }
};

}  // namespace detail
}  // namespace eqnn
