#include "device_arg.h"

#include <torch/cuda.h>

#include "cli.h"

namespace eqnn_cli {

void add_device_option(CLI::App* command, std::string& device) {
  command->add_option("--device", device, "Where the model runs: cpu, cuda or cuda:N")
      ->capture_default_str();
}

torch::Device parse_device(const std::string& text, const std::string& who) {
  const bool cuda = text == "cuda" || text.rfind("cuda:", 0) == 0;
  if (text != "cpu" && !cuda)
    throw UsageError(who + ": --device expects cpu, cuda or cuda:N, got '" + text + "'");
  if (!cuda) return torch::kCPU;
  int64_t index = 0;
  if (text.size() > 5) {
    const std::string digits = text.substr(5);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 4)
      throw UsageError(who + ": --device expects cuda:N with N a GPU index, got '" + text + "'");
    index = std::stoll(digits);
  }
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (count == 0)
    throw UsageError(who + ": --device " + text +
                     ": no CUDA device: this LibTorch was built without CUDA (Debian's is CPU "
                     "only; PyTorch's LibTorch has it) or no GPU is visible; use --device cpu");
  if (index >= count)
    throw UsageError(who + ": --device " + text + ": there " +
                     (count == 1 ? "is 1 GPU" : "are " + std::to_string(count) + " GPUs") +
                     " (cuda:0" + (count > 1 ? " .. cuda:" + std::to_string(count - 1) : "") + ")");
  return torch::Device(torch::kCUDA, static_cast<torch::DeviceIndex>(index));
}

}  // namespace eqnn_cli
