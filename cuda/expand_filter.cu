// CUDA kernels for the filter expansion. The per-thread bodies live in
// include/eqnn/detail/expand_filter_kernel.h and are shared with the CPU path and its tests; the
// __global__ wrappers only forward the launch indices.
#include "eqnn/detail/expand_filter_kernel.h"
#include "launch_utils.cuh"

namespace eqnn {
namespace detail {
namespace cuda {
namespace {

template <typename scalar_t>
__global__ void expand_filter_forward_kernel(ExpandFilterParams p, const scalar_t* base,
                                             scalar_t* expanded) {
  expand_filter_forward_thread<scalar_t>(p, base, expanded, blockIdx.x, blockDim.x, threadIdx.x,
                                         gridDim.x);
}

template <typename scalar_t, typename acc_t>
__global__ void expand_filter_backward_kernel(ExpandFilterParams p, const scalar_t* grad_expanded,
                                              scalar_t* grad_base) {
  expand_filter_backward_thread<scalar_t, acc_t>(p, grad_expanded, grad_base, blockIdx.x,
                                                 blockDim.x, threadIdx.x, gridDim.x);
}

}  // namespace

const char* expand_filter_forward(const ExpandFilterParams& p, ScalarKind kind, const void* base,
                                  void* expanded, void* stream) {
  return dispatch(kind, [&](auto types) {
    using scalar_t = typename decltype(types)::scalar_t;
    expand_filter_forward_kernel<scalar_t>
        <<<blocks_for(p.expanded_numel()), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
            p, static_cast<const scalar_t*>(base), static_cast<scalar_t*>(expanded));
  });
}

const char* expand_filter_backward(const ExpandFilterParams& p, ScalarKind kind,
                                   const void* grad_expanded, void* grad_base, void* stream) {
  return dispatch(kind, [&](auto types) {
    using scalar_t = typename decltype(types)::scalar_t;
    using acc_t = typename decltype(types)::acc_t;
    expand_filter_backward_kernel<scalar_t, acc_t>
        <<<blocks_for(p.base_numel()), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
            p, static_cast<const scalar_t*>(grad_expanded), static_cast<scalar_t*>(grad_base));
  });
}

}  // namespace cuda
}  // namespace detail
}  // namespace eqnn
