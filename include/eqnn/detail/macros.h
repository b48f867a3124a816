// Portability macros shared by host code and CUDA kernels. This header must stay free of LibTorch
// includes: it is compiled by nvcc, which never sees LibTorch headers.
#pragma once

#if defined(__CUDACC__)
#define EQNN_HOST_DEVICE __host__ __device__
#define EQNN_FORCE_INLINE __forceinline__
#else
#define EQNN_HOST_DEVICE
#define EQNN_FORCE_INLINE inline
#endif
