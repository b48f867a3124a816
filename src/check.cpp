#include "eqnn/check.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <set>
#include <sstream>

#include "module_names.h"

namespace eqnn {

double default_tolerance(torch::ScalarType dtype, bool single_layer) {
  switch (dtype) {
    case torch::kDouble:
      return 1e-10;
    case torch::kFloat:
      return single_layer ? 1e-5 : 1e-4;
    default:
      return 1e-2;
  }
}

const ElementError& EquivarianceReport::worst() const {
  TORCH_CHECK(!elements.empty(), "eqnn::EquivarianceReport: the report is empty");
  const ElementError* worst = nullptr;  // the identity is exact, so there is one
  for (const ElementError& e : elements)
    if (!e.interpolated && (!worst || e.error > worst->error)) worst = &e;
  TORCH_CHECK(worst, "eqnn::EquivarianceReport: the report has no exact element");
  return *worst;
}

double EquivarianceReport::max_interpolated_error() const {
  double worst = 0;
  for (const ElementError& e : elements)
    if (e.interpolated) worst = std::max(worst, e.error);
  return worst;
}

std::string EquivarianceReport::str() const {
  std::ostringstream os;
  os << std::scientific << std::setprecision(2);
  os << (passed() ? "PASS" : "FAIL") << ": " << group << ", " << elements.size() << " elements, "
     << c10::toString(dtype) << ", " << in_type << " -> " << out_type << "; worst element "
     << worst_element() << ", error " << max_error() << (passed() ? " <= " : " > ") << "tolerance "
     << tolerance << " (output scale " << output_scale << ")\n";
  const bool any_interpolated = std::any_of(elements.begin(), elements.end(),
                                            [](const ElementError& e) { return e.interpolated; });
  if (any_interpolated) {
    os << "  interpolated elements (bilinear plane rotation): worst error "
       << max_interpolated_error();
    if (std::isinf(interpolated_tolerance))
      os << ", not judged (no interpolated_tolerance set)\n";
    else
      os << (max_interpolated_error() <= interpolated_tolerance ? " <= " : " > ") << "tolerance "
         << interpolated_tolerance << "\n";
  }
  for (const ElementError& e : elements) {
    os << "  " << std::setw(5) << e.name << "  max abs " << e.max_abs_error << "  error " << e.error
       << "  rms " << e.rms_error << (e.interpolated ? "  (interpolated)" : "") << "\n";
  }
  return os.str();
}

namespace {

EquivarianceReport empty_report(const FieldType& in_type, const FieldType& out_type,
                                const torch::Tensor& input, double tolerance, bool single_layer) {
  TORCH_CHECK(in_type.group.has_subgroup(out_type.group), "eqnn::check_equivariance: input type ",
              in_type, " and output type ", out_type,
              " are over different groups (the output's must be the input's or a subgroup of it)");
  TORCH_CHECK(input.defined() && input.is_floating_point(),
              "eqnn::check_equivariance: expected a floating-point input tensor");
  // An empty batch would "pass" without comparing a single value.
  TORCH_CHECK(input.numel() > 0, "eqnn::check_equivariance: expected a non-empty input, got shape ",
              input.sizes(), ": there is nothing to compare");
  EquivarianceReport report;
  report.group = out_type.group;  // a layer that restricts to a subgroup is checked on it
  report.in_type = in_type;
  report.out_type = out_type;
  report.dtype = input.scalar_type();
  report.tolerance =
      tolerance > 0 ? tolerance : default_tolerance(input.scalar_type(), single_layer);
  return report;
}

/// Appends the error of element g: f(g.x) against g.f(x).
void add_element(EquivarianceReport& report, int64_t g, const torch::Tensor& y,
                 const torch::Tensor& y_of_gx) {
  if (report.elements.empty()) report.output_scale = y.abs().max().item<double>();
  const torch::Tensor g_of_y = report.out_type.act(y, g);
  TORCH_CHECK(y_of_gx.sizes() == g_of_y.sizes(), "eqnn::check_equivariance: f(g.x) has shape ",
              y_of_gx.sizes(), " but g.f(x) has shape ", g_of_y.sizes(), " for element ",
              report.group.element_name(g));
  const torch::Tensor diff = y_of_gx.to(torch::kDouble) - g_of_y.to(torch::kDouble);
  ElementError e;
  e.element = g;
  e.name = report.group.element_name(g);
  e.max_abs_error = diff.numel() ? diff.abs().max().item<double>() : 0.0;
  e.rms_error = diff.numel() ? std::sqrt(diff.square().mean().item<double>()) : 0.0;
  e.error = e.max_abs_error / std::max(1.0, report.output_scale);
  e.interpolated = !report.group.on_grid(g);
  report.elements.push_back(std::move(e));
}

}  // namespace

EquivarianceReport check_equivariance(const std::function<torch::Tensor(const torch::Tensor&)>& fn,
                                      const FieldType& in_type, const FieldType& out_type,
                                      const torch::Tensor& input, double tolerance,
                                      bool single_layer) {
  EquivarianceReport report = empty_report(in_type, out_type, input, tolerance, single_layer);
  torch::NoGradGuard no_grad;
  const torch::Tensor y = fn(input);
  for (int64_t h = 0; h < report.group.order(); ++h)
    add_element(report, h, y, fn(in_type.act(input, in_type.group.embed(report.group, h))));
  return report;
}

namespace detail {

/// "torch::nn::ReLUImpl" -> "torch::nn::ReLU".
std::string module_name(const torch::nn::Module& module) {
  std::string name = module.name();
  const std::string suffix = "Impl";
  if (name.size() > suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    name.resize(name.size() - suffix.size());
  return name;
}

bool is_pointwise_module(const std::string& name) {
  static const std::set<std::string> kPointwise = {
      "torch::nn::ReLU",       "torch::nn::ReLU6",     "torch::nn::LeakyReLU",
      "torch::nn::PReLU",      "torch::nn::ELU",       "torch::nn::SELU",
      "torch::nn::CELU",       "torch::nn::GELU",      "torch::nn::SiLU",
      "torch::nn::Mish",       "torch::nn::Sigmoid",   "torch::nn::Tanh",
      "torch::nn::Softplus",   "torch::nn::Hardtanh",  "torch::nn::Identity",
      "torch::nn::Tanhshrink", "torch::nn::Softsign",  "torch::nn::Hardshrink",
      "torch::nn::Softshrink", "torch::nn::LogSigmoid"};
  return kPointwise.count(name) > 0;
}

}  // namespace detail

using detail::is_pointwise_module;
using detail::module_name;

namespace detail {

std::optional<FieldType> output_field_type(const torch::nn::Module& child,
                                           const std::optional<FieldType>& input,
                                           std::string* why) {
  const std::string name = module_name(child);
  auto unknown = [&](const std::string& reason) -> std::optional<FieldType> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (const auto* eq = dynamic_cast<const EquivariantModule*>(&child)) {
    const FieldType in = eq->in_type();
    const FieldType& current = input ? *input : in;
    if (!(in.group == current.group && in.kind == current.kind &&
          (in.any_fields() || current.any_fields() || in.num_fields == current.num_fields)))
      return unknown("expects " + in.str() + " but receives " + current.str());
    return eq->out_type_for(current);
  }
  if (const auto* seq = dynamic_cast<const torch::nn::SequentialImpl*>(&child)) {
    std::optional<FieldType> current = input;
    size_t index = 0;
    for (const auto& grandchild : seq->children()) {
      std::string inner;
      current = output_field_type(*grandchild, current, &inner);
      if (!current)
        return unknown("has a child " + std::to_string(index) + " (" + module_name(*grandchild) +
                       ") that " + (inner.empty() ? "the rules say nothing about" : inner));
      ++index;
    }
    return current;
  }
  if (!input)
    return unknown(
        "receives features whose field type is unknown (the first child must be an "
        "eqnn layer, whose input type fixes the group action)");
  if (is_pointwise_module(name) || name == "torch::nn::Flatten") return input;
  if (name == "torch::nn::Dropout" || name == "torch::nn::Dropout2d") {
    if (child.is_training())
      return unknown(
          "drops channels at random in training mode and is not equivariant there; "
          "call eval() first");
    return input;
  }
  const bool invariant = input->kind == FieldKind::Trivial;
  if (name == "torch::nn::Linear") {
    if (!invariant)
      return unknown(
          "mixes channels, which is only equivariant on invariant (trivial) "
          "features, but it receives " +
          input->str());
    const auto* linear = dynamic_cast<const torch::nn::LinearImpl*>(&child);
    return FieldType::trivial(input->group, linear->options.out_features());
  }
  if (name == "torch::nn::Softmax" || name == "torch::nn::LogSoftmax") {
    if (!invariant)
      return unknown("is only supported on invariant (trivial) features, but it receives " +
                     input->str());
    return input;
  }
  return unknown("");  // the rules say nothing about this module
}

}  // namespace detail

SequentialTypes infer_field_types(const torch::nn::SequentialImpl& sequential) {
  TORCH_CHECK(!sequential.is_empty(), "eqnn::infer_field_types: the Sequential is empty");
  std::optional<FieldType> first, current;
  std::vector<FieldType> outputs;
  size_t index = 0;
  for (const auto& child : sequential.children()) {
    const std::string where = "child " + std::to_string(index++) + " (" + module_name(*child) + ")";
    if (!first)
      if (const auto* eq = dynamic_cast<const EquivariantModule*>(child.get()))
        first = eq->in_type();
    std::string why;
    current = detail::output_field_type(*child, current ? current : first, &why);
    TORCH_CHECK(current.has_value() || !why.empty(),
                "eqnn::infer_field_types: cannot tell how the ", "group acts after ", where,
                "; use check_equivariance(fn, in_type, out_type, input) ",
                "with explicit field types");
    TORCH_CHECK(current.has_value(), "eqnn::infer_field_types: ", where, " ", why);
    outputs.push_back(*current);
  }
  TORCH_CHECK(first.has_value(), "eqnn::infer_field_types: the Sequential has no eqnn layer");
  return {*first, std::move(outputs)};
}

EquivarianceReport check_equivariance(const torch::nn::Sequential& sequential,
                                      const torch::Tensor& input, double tolerance) {
  const SequentialTypes types = infer_field_types(*sequential);
  auto impl = sequential.ptr();
  return check_equivariance([impl](const torch::Tensor& x) { return impl->forward(x); },
                            types.input, types.outputs.back(), input, tolerance,
                            /*single_layer=*/false);
}

namespace detail {
torch::Tensor forward_children(
    torch::nn::SequentialImpl& sequential, torch::Tensor x,
    const std::function<void(size_t, const torch::nn::AnyModule&, const torch::Tensor&)>& each) {
  size_t index = 0;
  for (auto& child : sequential) {
    x = child.forward<torch::Tensor>(x);
    each(index++, child, x);
  }
  return x;
}
}  // namespace detail

namespace {
/// Runs the children one by one, keeping every intermediate output.
std::vector<torch::Tensor> forward_stages(torch::nn::SequentialImpl& sequential,
                                          const torch::Tensor& x) {
  std::vector<torch::Tensor> stages;
  detail::forward_children(
      sequential, x,
      [&](size_t, const torch::nn::AnyModule&, const torch::Tensor& y) { stages.push_back(y); });
  return stages;
}
}  // namespace

std::vector<StageReport> check_equivariance_per_stage(const torch::nn::Sequential& sequential,
                                                      const torch::Tensor& input,
                                                      double tolerance) {
  const SequentialTypes types = infer_field_types(*sequential);
  torch::NoGradGuard no_grad;
  std::vector<StageReport> stages;
  size_t index = 0;
  for (const auto& child : sequential->children()) {
    // Every stage gets the network tolerance: errors accumulate along the network.
    stages.push_back({std::to_string(index) + ": " + module_name(*child),
                      empty_report(types.input, types.outputs[index], input, tolerance,
                                   /*single_layer=*/false)});
    ++index;
  }
  const std::vector<torch::Tensor> y = forward_stages(*sequential.ptr(), input);
  const Group& group = types.input.group;
  for (int64_t g = 0; g < group.order(); ++g) {
    const std::vector<torch::Tensor> y_of_gx =
        forward_stages(*sequential.ptr(), types.input.act(input, g));
    for (size_t i = 0; i < stages.size(); ++i) {
      // a stage after a restriction to a subgroup is checked on the subgroup's elements
      const Group& sub = stages[i].report.group;
      for (int64_t h = 0; h < sub.order(); ++h)
        if (group.embed(sub, h) == g) add_element(stages[i].report, h, y[i], y_of_gx[i]);
    }
  }
  return stages;
}

}  // namespace eqnn
