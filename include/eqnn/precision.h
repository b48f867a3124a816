/// \file
/// Mixed precision: a scope in which LibTorch's autocast runs the convolutions and linear layers
/// of the forward pass in bfloat16 (or, on a GPU, float16) while parameters stay float32 (master
/// weights); eqnn's layers accept the lower-precision features there (docs/metrics.md, section 10
/// has the equivariance error per dtype).
#pragma once

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace eqnn {

/// The arithmetic of a forward pass.
enum class Precision {
  Float32,   ///< everything in the parameters' dtype (no autocast)
  BFloat16,  ///< autocast to bfloat16 (CPU and GPU)
  Float16,   ///< autocast to float16 (GPU only)
};
/// "float32", "bfloat16", "float16".
const char* to_string(Precision precision);
/// float32/fp32, bfloat16/bf16, float16/fp16 (any case); throws otherwise.
Precision precision_from_name(const std::string& name);

/// Enables autocast to `precision` for `device` in this thread for the guard's lifetime and
/// restores the previous state after (Float32: changes nothing). Throws for float16 on the CPU.
class AutocastGuard {
 public:
  /// Turns autocast to `precision` on for `device` (a no-op for Float32).
  AutocastGuard(Precision precision, c10::DeviceType device);
  /// Restores the state found by the constructor.
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_;
  bool was_enabled_ = false;
  c10::ScalarType was_dtype_ = c10::ScalarType::Undefined;
};

namespace detail {
/// Whether autocast is on for `device` in this thread (LibTorch 1.13 and 2.x).
bool autocast_enabled(c10::DeviceType device);
/// The dtype autocast casts to on `device` in this thread.
c10::ScalarType autocast_dtype(c10::DeviceType device);
}  // namespace detail

}  // namespace eqnn
