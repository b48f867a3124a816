// CUDA kernels for the fused group action; bodies in include/eqnn/detail/group_action_kernel.h.
#include "eqnn/detail/group_action_kernel.h"
#include "launch_utils.cuh"

namespace eqnn {
namespace detail {
namespace cuda {
namespace {

template <typename scalar_t>
__global__ void group_action_kernel(GroupActionParams p, const scalar_t* x, scalar_t* y) {
  group_action_thread<scalar_t>(p, x, y, blockIdx.x, blockDim.x, threadIdx.x, gridDim.x);
}

template <typename scalar_t, typename acc_t>
__global__ void group_action_backward_kernel(GroupActionParams p, const scalar_t* grad_y,
                                             scalar_t* grad_x) {
  group_action_backward_thread<scalar_t, acc_t>(p, grad_y, grad_x, blockIdx.x, blockDim.x,
                                                threadIdx.x, gridDim.x);
}

}  // namespace

const char* group_action_forward(const GroupActionParams& p, ScalarKind kind, const void* x,
                                 void* y, void* stream) {
  return dispatch(kind, [&](auto types) {
    using scalar_t = typename decltype(types)::scalar_t;
    group_action_kernel<scalar_t>
        <<<blocks_for(p.out_numel()), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
            p, static_cast<const scalar_t*>(x), static_cast<scalar_t*>(y));
  });
}

const char* group_action_backward(const GroupActionParams& p, ScalarKind kind, const void* grad_y,
                                  void* grad_x, void* stream) {
  return dispatch(kind, [&](auto types) {
    using scalar_t = typename decltype(types)::scalar_t;
    using acc_t = typename decltype(types)::acc_t;
    group_action_backward_kernel<scalar_t, acc_t>
        <<<blocks_for(p.in_numel()), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
            p, static_cast<const scalar_t*>(grad_y), static_cast<scalar_t*>(grad_x));
  });
}

}  // namespace cuda
}  // namespace detail
}  // namespace eqnn
