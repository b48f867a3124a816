// The group action on feature maps, fused: one pass moves the plane (rotation/flip about the
// centre) and permutes the group axis of regular fields, for several elements at once. Per-element
// index math and per-thread bodies shared by the CPU loop and the CUDA kernels
// (cuda/group_action.cu).
//
//   y[k, b, c](p) = x[b, src_k(c)](g_k^-1 p)      (docs/conventions.md, "Feature maps")
//   regular fields: src_k(f*G + t) = f*G + idx(g_k^-1 h_t);  trivial fields: src_k(c) = c.
// x is (B, C, H, W), y is (K, B, C, H, W) viewed as (K*B, C, H, W); both dense in the same memory
// format (NCHW or NHWC), and threads enumerate y in memory order.
#pragma once

#include <cstdint>

#include "eqnn/detail/cpu_launch.h"
#include "eqnn/detail/group_tables.h"
#include "eqnn/detail/macros.h"

namespace eqnn {
namespace detail {

constexpr int kMaxActionElements = 16;

struct GroupActionParams {
  GroupTables group;
  int num_elements;                     // K
  int8_t elements[kMaxActionElements];  // subgroup indices g_k
  bool regular;                         // regular fields (else trivial)
  bool channels_last;
  int64_t batch, channels, rows, cols;

  EQNN_HOST_DEVICE int64_t in_numel() const { return batch * channels * rows * cols; }
  EQNN_HOST_DEVICE int64_t out_numel() const { return in_numel() * num_elements; }
};

/// Offset (within one (B, C, H, W) image batch) of entry (b, c, i, j) in the given format.
EQNN_HOST_DEVICE EQNN_FORCE_INLINE int64_t action_offset(const GroupActionParams& p, int64_t b,
                                                         int64_t c, int64_t i, int64_t j) {
  return p.channels_last ? ((b * p.rows + i) * p.cols + j) * p.channels + c
                         : ((b * p.channels + c) * p.rows + i) * p.cols + j;
}

/// Splits an offset within one (B, C, H, W) batch into (b, c, i, j).
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void action_coordinates(const GroupActionParams& p, int64_t m,
                                                           int64_t* b, int64_t* c, int64_t* i,
                                                           int64_t* j) {
  if (p.channels_last) {
    *c = m % p.channels;
    m /= p.channels;
    *j = m % p.cols;
    m /= p.cols;
    *i = m % p.rows;
    *b = m / p.rows;
  } else {
    *j = m % p.cols;
    m /= p.cols;
    *i = m % p.rows;
    m /= p.rows;
    *c = m % p.channels;
    *b = m / p.channels;
  }
}

/// Offset in x of the entry that lands at y offset n.
EQNN_HOST_DEVICE EQNN_FORCE_INLINE int64_t group_action_source(const GroupActionParams& p,
                                                               int64_t n) {
  const int64_t per_element = p.in_numel();
  const int g = p.elements[n / per_element];
  int64_t b, c, i, j;
  action_coordinates(p, n % per_element, &b, &c, &i, &j);
  if (p.regular) {
    const int64_t t = c % p.group.order;
    c += p.group.left_divide(g, static_cast<int>(t)) - t;
  }
  int64_t si = 0, sj = 0;
  plane_source(p.group.grid_index(g), p.rows, p.cols, i, j, &si, &sj);
  return action_offset(p, b, c, si, sj);
}

/// Offset in y (within the copy for element k) where x offset m lands: the inverse map.
EQNN_HOST_DEVICE EQNN_FORCE_INLINE int64_t group_action_destination(const GroupActionParams& p,
                                                                    int64_t m, int k) {
  const int g = p.elements[k];
  int64_t b, c, i, j;
  action_coordinates(p, m, &b, &c, &i, &j);
  if (p.regular) {  // x[f*G + s] lands at y[f*G + idx(g h_s)]
    const int64_t s = c % p.group.order;
    c += p.group.compose(g, static_cast<int>(s)) - s;
  }
  int64_t di = 0, dj = 0;  // g p is the source map of g^-1
  plane_source(p.group.grid_index(p.group.inverse(g)), p.rows, p.cols, i, j, &di, &dj);
  return action_offset(p, b, c, di, dj);
}

template <typename scalar_t>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void group_action_element(const GroupActionParams& p,
                                                             const scalar_t* __restrict__ x,
                                                             scalar_t* __restrict__ y, int64_t n) {
  y[n] = x[group_action_source(p, n)];
}

/// Backward, per x entry m: the sum over k of grad_y[k](destination(m, k)), in a fixed order.
template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void group_action_backward_element(
    const GroupActionParams& p, const scalar_t* __restrict__ grad_y, scalar_t* __restrict__ grad_x,
    int64_t m) {
  acc_t sum = acc_t(0);
  for (int k = 0; k < p.num_elements; ++k)
    sum += static_cast<acc_t>(grad_y[k * p.in_numel() + group_action_destination(p, m, k)]);
  grad_x[m] = static_cast<scalar_t>(sum);
}

template <typename scalar_t>
EQNN_HOST_DEVICE void group_action_thread(const GroupActionParams& p,
                                          const scalar_t* __restrict__ x, scalar_t* __restrict__ y,
                                          int64_t block, int64_t block_dim, int64_t thread,
                                          int64_t grid_dim) {
  grid_stride(p.out_numel(), block, block_dim, thread, grid_dim,
              [&](int64_t n) { group_action_element(p, x, y, n); });
}

template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE void group_action_backward_thread(const GroupActionParams& p,
                                                   const scalar_t* __restrict__ grad_y,
                                                   scalar_t* __restrict__ grad_x, int64_t block,
                                                   int64_t block_dim, int64_t thread,
                                                   int64_t grid_dim) {
  grid_stride(p.in_numel(), block, block_dim, thread, grid_dim, [&](int64_t m) {
    group_action_backward_element<scalar_t, acc_t>(p, grad_y, grad_x, m);
  });
}

}  // namespace detail
}  // namespace eqnn
