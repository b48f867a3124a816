#include "eqnn/precision.h"

#include <ATen/autocast_mode.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <algorithm>
#include <cctype>

// LibTorch 2.4 replaced the per-device autocast functions by ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define EQNN_AUTOCAST_BY_DEVICE_TYPE 1
#else
#define EQNN_AUTOCAST_BY_DEVICE_TYPE 0
#endif

namespace eqnn {
namespace {

void set_autocast(c10::DeviceType device, bool enabled, c10::ScalarType dtype) {
#if EQNN_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(device, enabled);
  if (dtype != c10::ScalarType::Undefined) at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(enabled);
    if (dtype != c10::ScalarType::Undefined) at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_enabled(enabled);
    if (dtype != c10::ScalarType::Undefined) at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

}  // namespace

namespace detail {

bool autocast_enabled(c10::DeviceType device) {
#if EQNN_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled()
                                        : at::autocast::is_enabled();
#endif
}

c10::ScalarType autocast_dtype(c10::DeviceType device) {
#if EQNN_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(device);
#else
  return device == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype()
                                        : at::autocast::get_autocast_gpu_dtype();
#endif
}

}  // namespace detail

const char* to_string(Precision precision) {
  switch (precision) {
    case Precision::Float32:
      return "float32";
    case Precision::BFloat16:
      return "bfloat16";
    case Precision::Float16:
      return "float16";
  }
  return "?";
}

Precision precision_from_name(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (key == "float32" || key == "fp32") return Precision::Float32;
  if (key == "bfloat16" || key == "bf16") return Precision::BFloat16;
  if (key == "float16" || key == "fp16") return Precision::Float16;
  TORCH_CHECK(false, "eqnn: unknown precision '", name,
              "'; expected float32 (fp32), bfloat16 (bf16) or float16 (fp16)");
}

AutocastGuard::AutocastGuard(Precision precision, c10::DeviceType device) : device_(device) {
  if (precision == Precision::Float32) return;
  TORCH_CHECK(precision != Precision::Float16 || device != c10::DeviceType::CPU,
              "eqnn::AutocastGuard: float16 autocast runs on a GPU only; on the CPU use "
              "bfloat16");
  was_enabled_ = detail::autocast_enabled(device);
  was_dtype_ = detail::autocast_dtype(device);
  set_autocast(
      device, true,
      precision == Precision::BFloat16 ? c10::ScalarType::BFloat16 : c10::ScalarType::Half);
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  set_autocast(device_, was_enabled_, was_dtype_);
  if (!was_enabled_) at::autocast::clear_cache();
}

}  // namespace eqnn
