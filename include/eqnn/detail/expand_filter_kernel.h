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

#include "eqnn/detail/cpu_launch.h"
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

/// Coordinates of a base filter entry, base layout (Cout, Cin, |Hin|, k, k).
struct BaseFilterIndex {
  int64_t o, i, s, y, x;
};

EQNN_HOST_DEVICE EQNN_FORCE_INLINE BaseFilterIndex decompose_base(const ExpandFilterParams& p,
                                                                  int64_t n) {
  BaseFilterIndex c;
  c.x = n % p.kernel_size;
  n /= p.kernel_size;
  c.y = n % p.kernel_size;
  n /= p.kernel_size;
  c.s = n % p.in_order;
  n /= p.in_order;
  c.i = n % p.in_fields;
  c.o = n / p.in_fields;
  return c;
}

EQNN_HOST_DEVICE EQNN_FORCE_INLINE int64_t compose_base(const ExpandFilterParams& p,
                                                        const BaseFilterIndex& c) {
  return (((c.o * p.in_fields + c.i) * p.in_order + c.s) * p.kernel_size + c.y) * p.kernel_size +
         c.x;
}

/// Linear index into the base filter that feeds expanded entry n. The expanded layout
/// (Cout, |G|, Cin, |Hin|, k, k) is the base layout with the output element t inserted after o.
EQNN_HOST_DEVICE EQNN_FORCE_INLINE int64_t expand_filter_source(const ExpandFilterParams& p,
                                                                int64_t n) {
  const int64_t per_out_field = p.in_fields * p.in_order * p.kernel_size * p.kernel_size;
  const int64_t rest = n % per_out_field;
  const int64_t ot = n / per_out_field;
  const int t = static_cast<int>(ot % p.group.order);
  BaseFilterIndex c = decompose_base(p, (ot / p.group.order) * per_out_field + rest);
  // tw[o, t, i, s](y) = w[o, i, idx(h_t^-1 h_s)](h_t^-1 y)
  if (p.in_order > 1) c.s = p.group.left_divide(t, static_cast<int>(c.s));
  int64_t sy = 0, sx = 0;
  plane_source(p.group.grid_index(t), p.kernel_size, p.kernel_size, c.y, c.x, &sy, &sx);
  c.y = sy;
  c.x = sx;
  return compose_base(p, c);
}

/// Linear index into the expanded filter of the copy of base entry n made for output element t:
/// w[o, i, s'](y) lands at tw[o, t, i, idx(h_t s')](h_t y).
EQNN_HOST_DEVICE EQNN_FORCE_INLINE int64_t expand_filter_destination(const ExpandFilterParams& p,
                                                                     int64_t n, int t) {
  const int64_t per_out_field = p.in_fields * p.in_order * p.kernel_size * p.kernel_size;
  BaseFilterIndex c = decompose_base(p, n);
  if (p.in_order > 1) c.s = p.group.compose(t, static_cast<int>(c.s));
  // h_t y is the pixel whose preimage under h_t is y: the source map of (h_t)^-1.
  int64_t dy = 0, dx = 0;
  plane_source(p.group.grid_index(p.group.inverse(t)), p.kernel_size, p.kernel_size, c.y, c.x, &dy,
               &dx);
  c.y = dy;
  c.x = dx;
  const int64_t o = c.o;
  c.o = 0;
  return (o * p.group.order + t) * per_out_field + compose_base(p, c);
}

template <typename scalar_t>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void expand_filter_forward_element(
    const ExpandFilterParams& p, const scalar_t* __restrict__ base, scalar_t* __restrict__ expanded,
    int64_t n) {
  expanded[n] = base[expand_filter_source(p, n)];
}

/// Each base entry sums its |G| copies in a fixed order (deterministic, no atomics), in acc_t.
template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void expand_filter_backward_element(
    const ExpandFilterParams& p, const scalar_t* __restrict__ grad_expanded,
    scalar_t* __restrict__ grad_base, int64_t n) {
  acc_t sum = acc_t(0);
  for (int t = 0; t < p.group.order; ++t)
    sum += static_cast<acc_t>(grad_expanded[expand_filter_destination(p, n, t)]);
  grad_base[n] = static_cast<scalar_t>(sum);
}

/// One CUDA thread's share of the forward gather.
template <typename scalar_t>
EQNN_HOST_DEVICE void expand_filter_forward_thread(const ExpandFilterParams& p,
                                                   const scalar_t* __restrict__ base,
                                                   scalar_t* __restrict__ expanded, int64_t block,
                                                   int64_t block_dim, int64_t thread,
                                                   int64_t grid_dim) {
  grid_stride(p.expanded_numel(), block, block_dim, thread, grid_dim,
              [&](int64_t n) { expand_filter_forward_element(p, base, expanded, n); });
}

/// One CUDA thread's share of the backward pass.
template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE void expand_filter_backward_thread(const ExpandFilterParams& p,
                                                    const scalar_t* __restrict__ grad_expanded,
                                                    scalar_t* __restrict__ grad_base, int64_t block,
                                                    int64_t block_dim, int64_t thread,
                                                    int64_t grid_dim) {
  grid_stride(p.base_numel(), block, block_dim, thread, grid_dim, [&](int64_t n) {
    expand_filter_backward_element<scalar_t, acc_t>(p, grad_expanded, grad_base, n);
  });
}

}  // namespace detail
}  // namespace eqnn
