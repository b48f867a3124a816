// Host-side entry points of the CUDA kernels in cuda/. Plain C++ (no LibTorch, no CUDA headers), so
// both nvcc (which compiles the kernels) and the LibTorch-facing C++ code can include it. Each
// launcher returns nullptr on success or the CUDA error string; `stream` is a cudaStream_t
// (nullptr: the default stream). Pointers are device pointers to dense tensors.
#pragma once

#include <cstdint>

#include "eqnn/detail/expand_filter_kernel.h"
#include "eqnn/detail/group_action_kernel.h"
#include "eqnn/detail/group_pool_kernel.h"
#include "eqnn/detail/steerable_filter_kernel.h"

namespace eqnn {
namespace detail {
namespace cuda {

enum class ScalarKind { Float32, Float64, Float16, BFloat16 };

/// expanded[n] = base[source(n)] for every expanded entry.
const char* expand_filter_forward(const ExpandFilterParams& params, ScalarKind kind,
                                  const void* base, void* expanded, void* stream);
/// grad_base[n] = sum over t of grad_expanded[destination(n, t)].
const char* expand_filter_backward(const ExpandFilterParams& params, ScalarKind kind,
                                   const void* grad_expanded, void* grad_base, void* stream);

/// expanded[n] = sum_b coefficients[..., b] basis[t, b](p); grad_coefficients its adjoint.
const char* steerable_filter_forward(const SteerableFilterParams& params, ScalarKind kind,
                                     const void* coefficients, const void* basis, void* expanded,
                                     void* stream);
const char* steerable_filter_backward(const SteerableFilterParams& params, ScalarKind kind,
                                      const void* grad_expanded, const void* basis,
                                      void* grad_coefficients, void* stream);

/// Max (argmax written) or mean over the group axis.
const char* group_pool_forward(const GroupPoolParams& params, ScalarKind kind, bool max,
                               const void* x, void* y, uint8_t* argmax, void* stream);
const char* group_pool_backward(const GroupPoolParams& params, ScalarKind kind, bool max,
                                const void* grad_y, const uint8_t* argmax, void* grad_x,
                                void* stream);

/// y = stack_k(L_{g_k} x); grad_x = sum_k L_{g_k}^-1 grad_y[k].
const char* group_action_forward(const GroupActionParams& params, ScalarKind kind, const void* x,
                                 void* y, void* stream);
const char* group_action_backward(const GroupActionParams& params, ScalarKind kind,
                                  const void* grad_y, void* grad_x, void* stream);

}  // namespace cuda
}  // namespace detail
}  // namespace eqnn
