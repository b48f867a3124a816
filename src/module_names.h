// How checks and probes recognise torch modules (internal; defined in check.cpp).
#pragma once

#include <torch/nn/module.h>

#include <string>

namespace eqnn {
namespace detail {

/// "torch::nn::ReLUImpl" -> "torch::nn::ReLU"; eqnn layers -> "eqnn::GroupConv2d".
std::string module_name(const torch::nn::Module& module);

/// True for torch modules that act entry by entry (activations, Identity), which keep any field
/// type.
bool is_pointwise_module(const std::string& name);

}  // namespace detail
}  // namespace eqnn
