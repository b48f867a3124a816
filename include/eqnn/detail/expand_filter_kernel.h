// Filter expansion, the per-element index math and the per-thread bodies shared by the CPU path and
// the CUDA kernels (cuda/expand_filter.cu). No LibTorch here: nvcc compiles this header.
//
// Expanded filter bank (conventions.md, "Convolutions"), laid out (Cout, |G|, Cin, |Hin|, k, k):
//   lifting (|Hin| = 1):  tw[o, t, i, 0](x) = w[o, i](h_t^-1 x)
//   group   (|Hin| = |G|): tw[o, t, i, s](x) = w[o, i, idx(h_t^-1 h_s)](h_t^-1 x)
// Base filters are laid out (Cout, Cin, |Hin|, k, k). The backward pass is the adjoint gather: base
// entry w[o, i, s'](y) receives, for each t, the gradient of tw[o, t, i, idx(h_t s')](h_t y).
#pragma once

#include <cstdint>

#include "eqnn/detail/group_tables.h"
#include "eqnn/detail/macros.h"

namespace eqnn {
namespace detail {

struct ExpandFilterParams {
  GroupTables group;
  int64_t out_fields;
  int64_t in_fields;
  int64_t in_order;  // 1 for a lifting filter, group.order for a group filter
  int64_t kernel_size;

  EQNN_HOST_DEVICE int64_t base_numel() const {
    return out_fields * in_fields * in_order * kernel_size * kernel_size;
  }
  EQNN_HOST_DEVICE int64_t expanded_numel() const { return base_numel() * group.order; }
};

/// Linear index into the base filter that feeds expanded entry n.
EQNN_HOST_DEVICE EQNN_FORCE_INLINE int64_t expand_filter_source(const ExpandFilterParams& p,
                                                                int64_t n) {
  const int64_t k = p.kernel_size;
  const int64_t x = n % k;
  n /= k;
  const int64_t y = n % k;
  n /= k;
  const int64_t s = n % p.in_order;
  n /= p.in_order;
  const int64_t i = n % p.in_fields;
  n /= p.in_fields;
  const int t = static_cast<int>(n % p.group.order);
  const int64_t o = n / p.group.order;

  const int64_t src_s = p.in_order == 1 ? 0 : p.group.left_divide(t, static_cast<int>(s));
  int64_t sy = 0, sx = 0;
  plane_source(p.group.d4_index[t], k, k, y, x, &sy, &sx);
  return (((o * p.in_fields + i) * p.in_order + src_s) * k + sy) * k + sx;
}

/// Linear index into the expanded filter of the copy of base entry n made for output element t.
EQNN_HOST_DEVICE EQNN_FORCE_INLINE int64_t expand_filter_destination(const ExpandFilterParams& p,
                                                                     int64_t n, int t) {
  const int64_t k = p.kernel_size;
  const int64_t x = n % k;
  n /= k;
  const int64_t y = n % k;
  n /= k;
  const int64_t s = n % p.in_order;
  n /= p.in_order;
  const int64_t i = n % p.in_fields;
  const int64_t o = n / p.in_fields;

  const int64_t dst_s = p.in_order == 1 ? 0 : p.group.compose(t, static_cast<int>(s));
  // h_t y is the pixel whose preimage under h_t is y: apply (h_t^-1)^-1.
  int64_t dy = 0, dx = 0;
  plane_source(p.group.d4_index[p.group.inverse[t]], k, k, y, x, &dy, &dx);
  return ((((o * p.group.order + t) * p.in_fields + i) * p.in_order + dst_s) * k + dy) * k + dx;
}

/// One CUDA thread's share of the forward gather (grid-stride loop over expanded entries).
template <typename scalar_t>
EQNN_HOST_DEVICE void expand_filter_forward_thread(const ExpandFilterParams& p,
                                                   const scalar_t* __restrict__ base,
                                                   scalar_t* __restrict__ expanded, int64_t block,
                                                   int64_t block_dim, int64_t thread,
                                                   int64_t grid_dim) {
  const int64_t total = p.expanded_numel();
  for (int64_t n = block * block_dim + thread; n < total; n += block_dim * grid_dim) {
    expanded[n] = base[expand_filter_source(p, n)];
  }
}

/// One CUDA thread's share of the backward pass: each base entry sums its |G| copies, in a fixed
/// order (deterministic, no atomics). Accumulates in acc_t (float for half types).
template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE void expand_filter_backward_thread(const ExpandFilterParams& p,
                                                    const scalar_t* __restrict__ grad_expanded,
                                                    scalar_t* __restrict__ grad_base, int64_t block,
                                                    int64_t block_dim, int64_t thread,
                                                    int64_t grid_dim) {
  const int64_t total = p.base_numel();
  for (int64_t n = block * block_dim + thread; n < total; n += block_dim * grid_dim) {
    acc_t sum = acc_t(0);
    for (int t = 0; t < p.group.order; ++t) {
      sum += static_cast<acc_t>(grad_expanded[expand_filter_destination(p, n, t)]);
    }
    grad_base[n] = static_cast<scalar_t>(sum);
  }
}

}  // namespace detail
}  // namespace eqnn
