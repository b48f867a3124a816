// Runs a CUDA kernel's per-thread body on the CPU: every (block, thread) pair of a 1-D launch, in
// order. Tests use it so that CI (no GPU) executes the exact code the GPU runs.
#pragma once

#include <cstdint>

namespace eqnn {
namespace detail {

/// body(block, block_dim, thread, grid_dim) for every block < grid_dim and thread < block_dim.
template <typename Body>
void cpu_launch(int64_t grid_dim, int64_t block_dim, Body&& body) {
  for (int64_t block = 0; block < grid_dim; ++block)
    for (int64_t thread = 0; thread < block_dim; ++thread)
      body(block, block_dim, thread, grid_dim);
}

}  // namespace detail
}  // namespace eqnn
