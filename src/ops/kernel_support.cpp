#include "kernel_support.h"

#if defined(EQNN_WITH_CUDA) && defined(EQNN_TORCH_HAS_CUDA)
#include <c10/cuda/CUDAStream.h>
#endif

namespace eqnn {
namespace ops {
namespace support {

at::MemoryFormat feature_format(const at::Tensor& x) {
  return x.dim() == 4 && x.suggest_memory_format() == at::MemoryFormat::ChannelsLast
             ? at::MemoryFormat::ChannelsLast
             : at::MemoryFormat::Contiguous;
}

void check_supported(const at::Tensor& x, const char* op) {
  TORCH_CHECK(x.defined(), op, ": expected a defined tensor");
  TORCH_CHECK(x.is_floating_point(), op, ": expected a floating-point tensor, got ",
              x.scalar_type());
#ifdef EQNN_WITH_CUDA
  TORCH_CHECK(x.is_cpu() || x.is_cuda(), op, ": expected a CPU or CUDA tensor, got ", x.device());
#else
  TORCH_CHECK(
      x.is_cpu(), op, ": expected a CPU tensor, got ", x.device(),
      (x.is_cuda() ? "; eqnn was built without CUDA (configure with -DEQNN_WITH_CUDA=ON and "
                     "a CUDA LibTorch)"
                   : ""));
#endif
}

#ifdef EQNN_WITH_CUDA
detail::cuda::ScalarKind scalar_kind(at::ScalarType type, const char* op) {
  switch (type) {
    case at::kFloat:
      return detail::cuda::ScalarKind::Float32;
    case at::kDouble:
      return detail::cuda::ScalarKind::Float64;
    case at::kHalf:
      return detail::cuda::ScalarKind::Float16;
    case at::kBFloat16:
      return detail::cuda::ScalarKind::BFloat16;
    default:
      TORCH_CHECK(false, op, ": unsupported dtype ", type, " on CUDA");
  }
}

void* current_stream() {
#ifdef EQNN_TORCH_HAS_CUDA
  return c10::cuda::getCurrentCUDAStream().stream();
#else
  return nullptr;
#endif
}

void check_launch(const char* error, const char* op) {
  TORCH_CHECK(error == nullptr, op, ": CUDA kernel failed: ", error);
}
#endif

}  // namespace support
}  // namespace ops
}  // namespace eqnn
