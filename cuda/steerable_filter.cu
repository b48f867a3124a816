// CUDA kernels for the steerable filter expansion. The per-thread bodies live in
// include/eqnn/detail/steerable_filter_kernel.h and are shared with the CPU path and its tests;
// the __global__ wrappers only forward the launch indices.
#include "eqnn/detail/steerable_filter_kernel.h"
#include "launch_utils.cuh"

namespace eqnn {
namespace detail {
namespace cuda {
namespace {

template <typename scalar_t, typename acc_t>
__global__ void steerable_filter_forward_kernel(SteerableFilterParams p,
                                                const scalar_t* coefficients, const scalar_t* basis,
                                                scalar_t* expanded) {
  steerable_filter_forward_thread<scalar_t, acc_t>(p, coefficients, basis, expanded, blockIdx.x,
                                                   blockDim.x, threadIdx.x, gridDim.x);
}

template <typename scalar_t, typename acc_t>
__global__ void steerable_filter_backward_kernel(SteerableFilterParams p,
                                                 const scalar_t* grad_expanded,
                                                 const scalar_t* basis,
                                                 scalar_t* grad_coefficients) {
  steerable_filter_backward_thread<scalar_t, acc_t>(p, grad_expanded, basis, grad_coefficients,
                                                    blockIdx.x, blockDim.x, threadIdx.x, gridDim.x);
}

}  // namespace

const char* steerable_filter_forward(const SteerableFilterParams& p, ScalarKind kind,
                                     const void* coefficients, const void* basis, void* expanded,
                                     void* stream) {
  return dispatch(kind, [&](auto types) {
    using scalar_t = typename decltype(types)::scalar_t;
    using acc_t = typename decltype(types)::acc_t;
    steerable_filter_forward_kernel<scalar_t, acc_t>
        <<<blocks_for(p.expanded_numel()), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
            p, static_cast<const scalar_t*>(coefficients), static_cast<const scalar_t*>(basis),
            static_cast<scalar_t*>(expanded));
  });
}

const char* steerable_filter_backward(const SteerableFilterParams& p, ScalarKind kind,
                                      const void* grad_expanded, const void* basis,
                                      void* grad_coefficients, void* stream) {
  return dispatch(kind, [&](auto types) {
    using scalar_t = typename decltype(types)::scalar_t;
    using acc_t = typename decltype(types)::acc_t;
    steerable_filter_backward_kernel<scalar_t, acc_t>
        <<<blocks_for(p.coefficient_numel()), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
            p, static_cast<const scalar_t*>(grad_expanded), static_cast<const scalar_t*>(basis),
            static_cast<scalar_t*>(grad_coefficients));
  });
}

}  // namespace cuda
}  // namespace detail
}  // namespace eqnn
