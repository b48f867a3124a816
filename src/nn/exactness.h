// Exactness guards shared by the layers (docs/conventions.md, "Exactness"). Internal header.
#pragma once

#include <torch/types.h>

#include <string>

#include "eqnn/group.h"

namespace eqnn {
namespace detail {

/// Groups with 90-degree rotations need square planes.
void check_square_input(const Group& group, const torch::Tensor& input, const std::string& who);

/// A window of effective size `kernel` sampled with `stride` after `padding` on each side is
/// symmetric about the centre iff (size + 2 padding - kernel) % stride == 0. Raises an error that
/// names the nearest sizes that work.
void check_symmetric_sampling(const std::string& who, const char* dim_name, int64_t size,
                              int64_t kernel, int64_t stride, int64_t padding);

/// Both of the above on the last two dims of `input`.
void check_exact_window(const Group& group, const torch::Tensor& input, const std::string& who,
                        int64_t kernel, int64_t stride, int64_t padding);

/// Whether autocast is on for the input's device with the input in its lower-precision dtype and
/// the parameter float32 (the ops after will cast them to a common dtype).
bool autocast_mixes(const torch::Tensor& input, const torch::Tensor& param);

/// Input and parameters must share dtype (or be mixed by autocast) and device.
void check_same_dtype_device(const torch::Tensor& input, const torch::Tensor& param,
                             const std::string& who);

}  // namespace detail
}  // namespace eqnn
