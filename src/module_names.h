// How checks and probes recognise torch modules and infer the field types they produce
// (internal; defined in check.cpp).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include <functional>

#include <optional>
#include <string>

#include "eqnn/field.h"

namespace eqnn {
namespace detail {

/// "torch::nn::ReLUImpl" -> "torch::nn::ReLU"; eqnn layers -> "eqnn::GroupConv2d".
std::string module_name(const torch::nn::Module& module);

/// True for torch modules that act entry by entry (activations, Identity), which keep any field
/// type.
bool is_pointwise_module(const std::string& name);

/// The field type of `child`'s output given the type of its input (std::nullopt: unknown), the
/// one set of rules behind infer_field_types and the probe's actions: eqnn layers give their
/// out_type (checked against the input), pointwise modules, Flatten and eval-mode Dropout keep the
/// type, Linear maps invariant (trivial) features to invariant features, Softmax/LogSoftmax keep
/// invariant ones, a Sequential composes its children. std::nullopt, with the reason in `why`,
/// where the type is unknown; `why` then says why as a phrase that follows the module's name
/// ("mixes channels, ..."), empty where the rules say nothing about the module.
std::optional<FieldType> output_field_type(const torch::nn::Module& child,
                                           const std::optional<FieldType>& input, std::string* why);

/// Runs the children of `sequential` one after the other on x, calling each(index, child, output)
/// after each, and returns the last output: the one staged forward of checks and probes.
torch::Tensor forward_children(
    torch::nn::SequentialImpl& sequential, torch::Tensor x,
    const std::function<void(size_t, const torch::nn::AnyModule&, const torch::Tensor&)>& each);

}  // namespace detail
}  // namespace eqnn
