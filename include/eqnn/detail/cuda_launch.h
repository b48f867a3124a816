// Host-side entry points of the CUDA kernels in cuda/. Plain C++ (no LibTorch, no CUDA headers), so
// both nvcc (which compiles the kernels) and the LibTorch-facing C++ code can include it. Each
// launcher returns nullptr on success or the CUDA error string.
#pragma once

#include "eqnn/detail/expand_filter_kernel.h"

namespace eqnn {
namespace detail {
namespace cuda {

enum class ScalarKind { Float32, Float64, Float16, BFloat16 };

/// expanded[n] = base[source(n)] for every expanded entry; stream is a cudaStream_t (nullptr:
/// default).
const char* expand_filter_forward(const ExpandFilterParams& params, ScalarKind kind,
                                  const void* base, void* expanded, void* stream);

/// grad_base[n] = sum over t of grad_expanded[destination(n, t)].
const char* expand_filter_backward(const ExpandFilterParams& params, ScalarKind kind,
                                   const void* grad_expanded, void* grad_base, void* stream);

}  // namespace cuda
}  // namespace detail
}  // namespace eqnn
