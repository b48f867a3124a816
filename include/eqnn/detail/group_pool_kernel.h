// Pooling over the group axis: the per-element index math shared by the CPU row loops
// (src/ops/group_pool.cpp) and the CUDA kernels (cuda/group_pool.cu), and the per-element and
// per-thread bodies the CUDA kernels run (the tests run them on CPU through the launch loop). No
// LibTorch here.
//
// x has C = F * G channels (regular fields), y has F. Both are dense in the same memory format:
// NCHW (channel-major planes) or NHWC (channels_last: the G channels of a field are adjacent).
// Threads enumerate elements in memory order, so accesses are contiguous in either format.
#pragma once

#include <cstdint>

#include "eqnn/detail/cpu_launch.h"
#include "eqnn/detail/macros.h"

namespace eqnn {
namespace detail {

struct GroupPoolParams {
  int64_t batch;
  int64_t fields;  // F
  int64_t order;   // G
  int64_t plane;   // H * W
  bool channels_last;

  EQNN_HOST_DEVICE int64_t out_numel() const { return batch * fields * plane; }
  EQNN_HOST_DEVICE int64_t in_numel() const { return out_numel() * order; }
};

/// Offset in x of element t of the field that output entry n (memory order) pools; consecutive t
/// are `step` apart.
EQNN_HOST_DEVICE EQNN_FORCE_INLINE int64_t group_pool_first_input(const GroupPoolParams& p,
                                                                  int64_t n, int64_t* step) {
  if (p.channels_last) {  // n = (b * plane + q) * F + f
    *step = 1;
    return n * p.order;
  }
  // n = (b * F + f) * plane + q
  *step = p.plane;
  const int64_t q = n % p.plane;
  const int64_t bf = n / p.plane;
  return bf * p.order * p.plane + q;
}

/// For input entry m (memory order): the output entry it pools into and its element index t.
EQNN_HOST_DEVICE EQNN_FORCE_INLINE int64_t group_pool_output_of_input(const GroupPoolParams& p,
                                                                      int64_t m, int64_t* t) {
  if (p.channels_last) {
    *t = m % p.order;
    return m / p.order;
  }
  const int64_t q = m % p.plane;
  const int64_t bc = m / p.plane;
  *t = bc % p.order;
  return (bc / p.order) * p.plane + q;
}

/// Max over the group axis and the winning element (the first one on ties; a NaN wins, as in
/// torch.max). Values are compared in acc_t; the output is the input value itself.
template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void group_pool_max_element(const GroupPoolParams& p,
                                                               const scalar_t* __restrict__ x,
                                                               scalar_t* __restrict__ y,
                                                               uint8_t* __restrict__ argmax,
                                                               int64_t n) {
  int64_t step = 0;
  const int64_t first = group_pool_first_input(p, n, &step);
  acc_t best = static_cast<acc_t>(x[first]);
  int64_t best_t = 0;
  for (int64_t t = 1; t < p.order && best == best; ++t) {
    const acc_t v = static_cast<acc_t>(x[first + t * step]);
    if (v > best || v != v) {
      best = v;
      best_t = t;
    }
  }
  y[n] = x[first + best_t * step];
  argmax[n] = static_cast<uint8_t>(best_t);
}

template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void group_pool_mean_element(const GroupPoolParams& p,
                                                                const scalar_t* __restrict__ x,
                                                                scalar_t* __restrict__ y,
                                                                int64_t n) {
  int64_t step = 0;
  const int64_t first = group_pool_first_input(p, n, &step);
  acc_t sum = acc_t(0);
  for (int64_t t = 0; t < p.order; ++t)
    sum += static_cast<acc_t>(x[first + t * step]);
  y[n] = static_cast<scalar_t>(sum / static_cast<acc_t>(p.order));
}

/// Backward of max, per input entry m: the gradient goes to the element that won (no atomics).
template <typename scalar_t>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void group_pool_max_backward_element(
    const GroupPoolParams& p, const scalar_t* __restrict__ grad_y,
    const uint8_t* __restrict__ argmax, scalar_t* __restrict__ grad_x, int64_t m) {
  int64_t t = 0;
  const int64_t n = group_pool_output_of_input(p, m, &t);
  grad_x[m] = argmax[n] == t ? grad_y[n] : scalar_t(0);
}

template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void group_pool_mean_backward_element(
    const GroupPoolParams& p, const scalar_t* __restrict__ grad_y, scalar_t* __restrict__ grad_x,
    int64_t m) {
  int64_t t = 0;
  const int64_t n = group_pool_output_of_input(p, m, &t);
  grad_x[m] = static_cast<scalar_t>(static_cast<acc_t>(grad_y[n]) / static_cast<acc_t>(p.order));
}

// One CUDA thread's share of each pass (grid-stride loops over the element functions above).
template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE void group_pool_max_thread(const GroupPoolParams& p,
                                            const scalar_t* __restrict__ x,
                                            scalar_t* __restrict__ y, uint8_t* __restrict__ argmax,
                                            int64_t block, int64_t block_dim, int64_t thread,
                                            int64_t grid_dim) {
  grid_stride(p.out_numel(), block, block_dim, thread, grid_dim,
              [&](int64_t n) { group_pool_max_element<scalar_t, acc_t>(p, x, y, argmax, n); });
}

template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE void group_pool_mean_thread(const GroupPoolParams& p,
                                             const scalar_t* __restrict__ x,
                                             scalar_t* __restrict__ y, int64_t block,
                                             int64_t block_dim, int64_t thread, int64_t grid_dim) {
  grid_stride(p.out_numel(), block, block_dim, thread, grid_dim,
              [&](int64_t n) { group_pool_mean_element<scalar_t, acc_t>(p, x, y, n); });
}

template <typename scalar_t>
EQNN_HOST_DEVICE void group_pool_max_backward_thread(const GroupPoolParams& p,
                                                     const scalar_t* __restrict__ grad_y,
                                                     const uint8_t* __restrict__ argmax,
                                                     scalar_t* __restrict__ grad_x, int64_t block,
                                                     int64_t block_dim, int64_t thread,
                                                     int64_t grid_dim) {
  grid_stride(p.in_numel(), block, block_dim, thread, grid_dim, [&](int64_t m) {
    group_pool_max_backward_element<scalar_t>(p, grad_y, argmax, grad_x, m);
  });
}

template <typename scalar_t, typename acc_t>
EQNN_HOST_DEVICE void group_pool_mean_backward_thread(const GroupPoolParams& p,
                                                      const scalar_t* __restrict__ grad_y,
                                                      scalar_t* __restrict__ grad_x, int64_t block,
                                                      int64_t block_dim, int64_t thread,
                                                      int64_t grid_dim) {
  grid_stride(p.in_numel(), block, block_dim, thread, grid_dim, [&](int64_t m) {
    group_pool_mean_backward_element<scalar_t, acc_t>(p, grad_y, grad_x, m);
  });
}

}  // namespace detail
}  // namespace eqnn
