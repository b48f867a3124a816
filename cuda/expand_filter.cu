// CUDA kernels for the filter expansion. The per-thread bodies live in
// include/eqnn/detail/expand_filter_kernel.h and are shared with the CPU path and its tests; the
// __global__ wrappers below only forward the launch indices.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "eqnn/detail/cuda_launch.h"

namespace eqnn {
namespace detail {
namespace cuda {
namespace {

constexpr int kThreads = 256;

template <typename scalar_t>
__global__ void expand_filter_forward_kernel(ExpandFilterParams p,
                                             const scalar_t* __restrict__ base,
                                             scalar_t* __restrict__ expanded) {
  expand_filter_forward_thread<scalar_t>(p, base, expanded, blockIdx.x, blockDim.x, threadIdx.x,
                                         gridDim.x);
}

template <typename scalar_t, typename acc_t>
__global__ void expand_filter_backward_kernel(ExpandFilterParams p,
                                              const scalar_t* __restrict__ grad_expanded,
                                              scalar_t* __restrict__ grad_base) {
  expand_filter_backward_thread<scalar_t, acc_t>(p, grad_expanded, grad_base, blockIdx.x,
                                                 blockDim.x, threadIdx.x, gridDim.x);
}

int blocks_for(int64_t n) {
  // Grid-stride loops: cap the grid, every thread handles several entries on huge filters.
  return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535));
}

const char* status() {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? nullptr : cudaGetErrorString(err);
}

template <typename scalar_t>
void launch_forward(const ExpandFilterParams& p, const void* base, void* expanded, cudaStream_t s) {
  const int64_t n = p.expanded_numel();
  if (n == 0) return;
  expand_filter_forward_kernel<scalar_t><<<blocks_for(n), kThreads, 0, s>>>(
      p, static_cast<const scalar_t*>(base), static_cast<scalar_t*>(expanded));
}

template <typename scalar_t, typename acc_t>
void launch_backward(const ExpandFilterParams& p, const void* grad_expanded, void* grad_base,
                     cudaStream_t s) {
  const int64_t n = p.base_numel();
  if (n == 0) return;
  expand_filter_backward_kernel<scalar_t, acc_t><<<blocks_for(n), kThreads, 0, s>>>(
      p, static_cast<const scalar_t*>(grad_expanded), static_cast<scalar_t*>(grad_base));
}

}  // namespace

const char* expand_filter_forward(const ExpandFilterParams& params, ScalarKind kind,
                                  const void* base, void* expanded, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (kind) {
    case ScalarKind::Float32:
      launch_forward<float>(params, base, expanded, s);
      break;
    case ScalarKind::Float64:
      launch_forward<double>(params, base, expanded, s);
      break;
    case ScalarKind::Float16:
      launch_forward<__half>(params, base, expanded, s);
      break;
    case ScalarKind::BFloat16:
      launch_forward<__nv_bfloat16>(params, base, expanded, s);
      break;
  }
  return status();
}

const char* expand_filter_backward(const ExpandFilterParams& params, ScalarKind kind,
                                   const void* grad_expanded, void* grad_base, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (kind) {
    case ScalarKind::Float32:
      launch_backward<float, float>(params, grad_expanded, grad_base, s);
      break;
    case ScalarKind::Float64:
      launch_backward<double, double>(params, grad_expanded, grad_base, s);
      break;
    case ScalarKind::Float16:
      launch_backward<__half, float>(params, grad_expanded, grad_base, s);
      break;
    case ScalarKind::BFloat16:
      launch_backward<__nv_bfloat16, float>(params, grad_expanded, grad_base, s);
      break;
  }
  return status();
}

}  // namespace cuda
}  // namespace detail
}  // namespace eqnn
