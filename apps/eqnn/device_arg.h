// --device cpu|cuda|cuda:N, shared by train, probe, check and demo.
#pragma once

#include <torch/types.h>
#include <CLI/CLI.hpp>

#include <string>

namespace eqnn_cli {

/// Registers --device on `command`, stored in `device` ("cpu" by default).
void add_device_option(CLI::App* command, std::string& device);

/// The device `text` names. Throws UsageError, naming `who`, for a malformed name, for CUDA when
/// this LibTorch was built without it or no GPU is visible, and for a GPU index that is not
/// there.
torch::Device parse_device(const std::string& text, const std::string& who);

}  // namespace eqnn_cli
