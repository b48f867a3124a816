// CUDA kernels for pooling over the group axis; bodies in include/eqnn/detail/group_pool_kernel.h.
#include "eqnn/detail/group_pool_kernel.h"
#include "launch_utils.cuh"

namespace eqnn {
namespace detail {
namespace cuda {
namespace {

template <typename scalar_t, typename acc_t>
__global__ void group_pool_max_kernel(GroupPoolParams p, const scalar_t* x, scalar_t* y,
                                      uint8_t* argmax) {
  group_pool_max_thread<scalar_t, acc_t>(p, x, y, argmax, blockIdx.x, blockDim.x, threadIdx.x,
                                         gridDim.x);
}

template <typename scalar_t, typename acc_t>
__global__ void group_pool_mean_kernel(GroupPoolParams p, const scalar_t* x, scalar_t* y) {
  group_pool_mean_thread<scalar_t, acc_t>(p, x, y, blockIdx.x, blockDim.x, threadIdx.x, gridDim.x);
}

template <typename scalar_t>
__global__ void group_pool_max_backward_kernel(GroupPoolParams p, const scalar_t* grad_y,
                                               const uint8_t* argmax, scalar_t* grad_x) {
  group_pool_max_backward_thread<scalar_t>(p, grad_y, argmax, grad_x, blockIdx.x, blockDim.x,
                                           threadIdx.x, gridDim.x);
}

template <typename scalar_t, typename acc_t>
__global__ void group_pool_mean_backward_kernel(GroupPoolParams p, const scalar_t* grad_y,
                                                scalar_t* grad_x) {
  group_pool_mean_backward_thread<scalar_t, acc_t>(p, grad_y, grad_x, blockIdx.x, blockDim.x,
                                                   threadIdx.x, gridDim.x);
}

}  // namespace

const char* group_pool_forward(const GroupPoolParams& p, ScalarKind kind, bool max, const void* x,
                               void* y, uint8_t* argmax, void* stream) {
  return dispatch(kind, [&](auto types) {
    using scalar_t = typename decltype(types)::scalar_t;
    using acc_t = typename decltype(types)::acc_t;
    auto s = static_cast<cudaStream_t>(stream);
    const auto* in = static_cast<const scalar_t*>(x);
    auto* out = static_cast<scalar_t*>(y);
    if (max) {
      group_pool_max_kernel<scalar_t, acc_t>
          <<<blocks_for(p.out_numel()), kThreads, 0, s>>>(p, in, out, argmax);
    } else {
      group_pool_mean_kernel<scalar_t, acc_t>
          <<<blocks_for(p.out_numel()), kThreads, 0, s>>>(p, in, out);
    }
  });
}

const char* group_pool_backward(const GroupPoolParams& p, ScalarKind kind, bool max,
                                const void* grad_y, const uint8_t* argmax, void* grad_x,
                                void* stream) {
  return dispatch(kind, [&](auto types) {
    using scalar_t = typename decltype(types)::scalar_t;
    using acc_t = typename decltype(types)::acc_t;
    auto s = static_cast<cudaStream_t>(stream);
    const auto* gy = static_cast<const scalar_t*>(grad_y);
    auto* gx = static_cast<scalar_t*>(grad_x);
    if (max) {
      group_pool_max_backward_kernel<scalar_t>
          <<<blocks_for(p.in_numel()), kThreads, 0, s>>>(p, gy, argmax, gx);
    } else {
      group_pool_mean_backward_kernel<scalar_t, acc_t>
          <<<blocks_for(p.in_numel()), kThreads, 0, s>>>(p, gy, gx);
    }
  });
}

}  // namespace cuda
}  // namespace detail
}  // namespace eqnn
