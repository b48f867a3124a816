// Launch scaffolding shared by the kernels: the grid-stride loop every CUDA thread body runs, and
// a CPU launch loop that runs a thread body for every (block, thread) pair, in order. Tests use the
// latter so that CI (no GPU) executes the exact code the GPU runs.
#pragma once

#include <cstdint>

#include "eqnn/detail/macros.h"

namespace eqnn {
namespace detail {

/// f(n) for the entries n < total that thread (block, thread) of a 1-D grid owns.
template <typename F>
EQNN_HOST_DEVICE EQNN_FORCE_INLINE void grid_stride(int64_t total, int64_t block, int64_t block_dim,
                                                    int64_t thread, int64_t grid_dim, F&& f) {
  for (int64_t n = block * block_dim + thread; n < total; n += block_dim * grid_dim)
    f(n);
}

/// body(block, block_dim, thread, grid_dim) for every block < grid_dim and thread < block_dim.
template <typename Body>
void cpu_launch(int64_t grid_dim, int64_t block_dim, Body&& body) {
  for (int64_t block = 0; block < grid_dim; ++block)
    for (int64_t thread = 0; thread < block_dim; ++thread)
      body(block, block_dim, thread, grid_dim);
}

}  // namespace detail
}  // namespace eqnn
