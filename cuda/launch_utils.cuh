// Launch helpers shared by the CUDA kernels: grid sizing, error reporting, dtype dispatch.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "eqnn/detail/cuda_launch.h"

namespace eqnn {
namespace detail {
namespace cuda {

constexpr int kThreads = 256;

/// Grid for a grid-stride loop over n entries (capped: large problems loop inside each thread).
inline int blocks_for(int64_t n) {
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 8)));
}

/// nullptr on success, else the CUDA error string of the last launch.
inline const char* launch_status() {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? nullptr : cudaGetErrorString(err);
}

template <typename Scalar, typename Acc>
struct Types {
  using scalar_t = Scalar;  // storage type
  using acc_t = Acc;        // accumulation type
};

/// Calls f(Types<scalar_t, acc_t>{}) for the scalar kind, then reports the launch status.
template <typename F>
const char* dispatch(ScalarKind kind, F&& f) {
  switch (kind) {
    case ScalarKind::Float32:
      f(Types<float, float>{});
      break;
    case ScalarKind::Float64:
      f(Types<double, double>{});
      break;
    case ScalarKind::Float16:
      f(Types<__half, float>{});
      break;
    case ScalarKind::BFloat16:
      f(Types<__nv_bfloat16, float>{});
      break;
  }
  return launch_status();
}

}  // namespace cuda
}  // namespace detail
}  // namespace eqnn
