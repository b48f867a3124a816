// Steerable filter expansion, the per-entry math and the per-thread bodies shared by the CPU path
// and the CUDA kernels (cuda/steerable_filter.cu). No LibTorch here: nvcc compiles this header.
//
// A steerable filter is a combination of basis functions psi_b (docs/conventions.md, "Steerable
// filters"); the basis, sampled for every group element, is B[t, b] = L_{h_t} psi_b on the k x k
// grid, laid out (|G|, nb, k, k). With coefficients c laid out (Cout, Cin, |Hin|, nb), the expanded
// filter bank, laid out (Cout, |G|, Cin, |Hin|, k, k) as for pixel filters, is
//   lifting (|Hin| = 1):   tw[o, t, i, 0](p) = sum_b c[o, i, 0, b] B[t, b](p)
//   group (|Hin| = |G|):   tw[o, t, i, s](p) = sum_b c[o, i, idx(h_t^-1 h_s), b] B[t, b](p)
// (the group case is L_{h_t} w[o, i, idx(h_t^-1 h_s)] with w = sum_b c psi_b, conventions.md
// "Convolutions"). The backward pass is its adjoint:
//   dc[o, i, u, b] = sum_t sum_p dtw[o, t, i, idx(h_t h_u)](p) B[t, b](p).
// Both sum in a fixed order, so the copies for elements whose basis samples are exact permutations
// of each other (rotations by 90 degrees, mirrors) are bit for bit permutations too.
#pragma once

#include <cstdint>

#include "eqnn/detail/cpu_launch.h"
#include "eqnn/detail/group_tables.h"
#include "eqnn/detail/macros.h"

namespace eqnn {
namespace detail {

struct SteerableFilterParams {
  GroupTables group;
  int64_t out_fields;
  int64_t in_fields;
  int64_t in_order;  // 1 for a lifting filter, group.order for a group filter
  int64_t basis_size;
  int64_t kernel_size;

  EQNN_HOST_DEVICE int64_t plane() const { return kernel_size * kernel_size; }
  EQNN_HOST_DEVICE int64_t coefficient_numel() const {
    return out_fields * in_fields * in_order * basis_size;
  }
  EQNN_HOST_DEVICE int64_t expanded_numel() const {
    return out_fields * group.order * in_fields * in_order * plane();
  }
  EQNN_HOST_DEVICE int64_t basis_numel() const { return group.order * basis_size * plane(); }
};

/// Expanded entry n: the basis samples of its element combined with its coefficients, in acc_t.
template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void steerable_filter_forward_element(
    const SteerableFilterParams& p, const scalar_t* __restrict__ coefficients,
    const scalar_t* __restrict__ basis, scalar_t* __restrict__ expanded, int64_t n) {
  const int64_t plane = p.plane();
  const int64_t q = n % plane;
  int64_t rest = n / plane;
  const int64_t s = rest % p.in_order;
  rest /= p.in_order;
  const int64_t i = rest % p.in_fields;
  rest /= p.in_fields;
  const int t = static_cast<int>(rest % p.group.order);
  const int64_t o = rest / p.group.order;
  const int64_t source = p.in_order > 1 ? p.group.left_divide(t, static_cast<int>(s)) : 0;
  const scalar_t* c = coefficients + ((o * p.in_fields + i) * p.in_order + source) * p.basis_size;
  const scalar_t* b = basis + t * p.basis_size * plane + q;
  acc_t sum = acc_t(0);
  for (int64_t j = 0; j < p.basis_size; ++j)
    sum += static_cast<acc_t>(c[j]) * static_cast<acc_t>(b[j * plane]);
  expanded[n] = static_cast<scalar_t>(sum);
}

/// Coefficient entry m: the adjoint sum over elements and pixels, in a fixed order, in acc_t.
template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void steerable_filter_backward_element(
    const SteerableFilterParams& p, const scalar_t* __restrict__ grad_expanded,
    const scalar_t* __restrict__ basis, scalar_t* __restrict__ grad_coefficients, int64_t m) {
  const int64_t plane = p.plane();
  const int64_t j = m % p.basis_size;
  int64_t rest = m / p.basis_size;
  const int64_t u = rest % p.in_order;
  rest /= p.in_order;
  const int64_t i = rest % p.in_fields;
  const int64_t o = rest / p.in_fields;
  acc_t sum = acc_t(0);
  for (int t = 0; t < p.group.order; ++t) {
    const int64_t s = p.in_order > 1 ? p.group.compose(t, static_cast<int>(u)) : 0;
    const scalar_t* g =
        grad_expanded + (((o * p.group.order + t) * p.in_fields + i) * p.in_order + s) * plane;
    const scalar_t* b = basis + (t * p.basis_size + j) * plane;
    for (int64_t q = 0; q < plane; ++q)
      sum += static_cast<acc_t>(g[q]) * static_cast<acc_t>(b[q]);
  }
  grad_coefficients[m] = static_cast<scalar_t>(sum);
}

/// One CUDA thread's share of the forward pass.
template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE void steerable_filter_forward_thread(const SteerableFilterParams& p,
                                                      const scalar_t* __restrict__ coefficients,
                                                      const scalar_t* __restrict__ basis,
                                                      scalar_t* __restrict__ expanded,
                                                      int64_t block, int64_t block_dim,
                                                      int64_t thread, int64_t grid_dim) {
  grid_stride(p.expanded_numel(), block, block_dim, thread, grid_dim, [&](int64_t n) {
    steerable_filter_forward_element<scalar_t, acc_t>(p, coefficients, basis, expanded, n);
  });
}

/// One CUDA thread's share of the backward pass.
template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE void steerable_filter_backward_thread(const SteerableFilterParams& p,
                                                       const scalar_t* __restrict__ grad_expanded,
                                                       const scalar_t* __restrict__ basis,
                                                       scalar_t* __restrict__ grad_coefficients,
                                                       int64_t block, int64_t block_dim,
                                                       int64_t thread, int64_t grid_dim) {
  grid_stride(p.coefficient_numel(), block, block_dim, thread, grid_dim, [&](int64_t m) {
    steerable_filter_backward_element<scalar_t, acc_t>(p, grad_expanded, basis, grad_coefficients,
                                                       m);
  });
}

}  // namespace detail
}  // namespace eqnn
