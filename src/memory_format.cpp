#include "eqnn/memory_format.h"

namespace eqnn {

torch::Tensor to_channels_last(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "eqnn::to_channels_last: expected (B, C, H, W), got ", x.sizes());
  if (x.suggest_memory_format() == at::MemoryFormat::ChannelsLast) return x;
  const int64_t c = x.size(1), h = x.size(2), w = x.size(3);
  const bool ambiguous = c == 1 || h * w == 1;
  if (ambiguous && x.is_contiguous()) return x.as_strided(x.sizes(), {c * h * w, 1, w * c, c});
  return x.contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace eqnn
