#include "eqnn/probe/probed_model.h"

#include <algorithm>
#include <sstream>

#include "../module_names.h"
#include "capture.h"
#include "eqnn/nn/equivariant_module.h"

namespace eqnn {
namespace probe {
namespace detail {

int64_t name_depth(const std::string& name) {
  return name.empty() ? 0 : 1 + std::count(name.begin(), name.end(), '.');
}

bool selected(const CaptureOptions& options, const std::string& name) {
  return name_depth(name) <= options.depth ||
         std::find(options.modules.begin(), options.modules.end(), name) != options.modules.end();
}

void check_names(const CaptureOptions& options, const std::vector<std::string>& names,
                 const std::string& model) {
  auto known = [&](const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  auto listing = [&] {
    std::ostringstream os;
    size_t shown = 0;
    for (const std::string& n : names)
      if (!n.empty() && shown++ < 40) os << (shown > 1 ? ", " : "") << n;
    if (shown > 40) os << ", ... (" << shown << " in all)";
    return os.str();
  };
  for (const std::string& name : options.modules)
    TORCH_CHECK(known(name), "eqnn::probe: model '", model, "' has no submodule '", name,
                "'; its submodules are: ", listing());
  for (const auto& declared : options.actions)
    TORCH_CHECK(declared.first == "output" || known(declared.first), "eqnn::probe: an action is ",
                "declared for '", declared.first, "', but model '", model,
                "' has no such submodule; its submodules are: ", listing(),
                " (and 'output' for the model's output)");
  TORCH_CHECK(options.depth >= 0, "eqnn::probe: depth must be >= 0, got ", options.depth);
}

void PointObserver::observe(const void* module, const torch::Tensor& output) {
  const auto it = points_.find(module);
  if (it != points_.end()) report(it->second, output);
}

void PointObserver::report(int64_t point, const torch::Tensor& output) {
  const void* tensor = output.unsafeGetTensorImpl();
  if (point == last_point_ && tensor == last_tensor_) return;
  last_point_ = point;
  last_tensor_ = tensor;
  sink_(point, output);
}

}  // namespace detail

void TapImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::probe::Tap(" << options.action().name() << ")";
}

ProbedModel sequence_model(const std::string& name, std::vector<SequenceStage> stages) {
  TORCH_CHECK(!stages.empty(), "eqnn::probe::sequence_model: model '", name, "' has no stages");
  ProbedModel model;
  model.name = name;
  auto forwards =
      std::make_shared<std::vector<std::function<torch::Tensor(const torch::Tensor&)>>>();
  for (SequenceStage& stage : stages) {
    TORCH_CHECK(stage.forward != nullptr, "eqnn::probe::sequence_model: stage '", stage.name,
                "' of model '", name, "' has no forward");
    model.points.push_back({stage.name, stage.type, stage.action, false});
    forwards->push_back(std::move(stage.forward));
  }
  model.output_action = model.points.back().action;
  model.run = [forwards](const torch::Tensor& x, const CaptureSink& sink) {
    torch::Tensor h = x;
    for (size_t i = 0; i < forwards->size(); ++i) {
      h = (*forwards)[i](h);
      sink(static_cast<int64_t>(i), h);
    }
    return h;
  };
  return model;
}

namespace {

using eqnn::detail::module_name;

/// The type as users write it: "eqnn::GroupConv2d", "torch::nn::Conv2d", "MyBlock".
std::string type_name(const torch::nn::Module& module) {
  std::string name = module_name(module);
  const std::string anonymous = "(anonymous namespace)::";
  for (auto at = name.find(anonymous); at != std::string::npos; at = name.find(anonymous))
    name.erase(at, anonymous.size());
  return name;
}

struct TreePoints {
  std::vector<ProbePoint> points;
  std::unordered_map<const void*, int64_t> index;  // module -> point
};

/// The points of a module tree: selected modules, with declared, Tap, field-type or inferred
/// (`inferred`, by module) actions.
TreePoints tree_points(const torch::nn::Module& root, const CaptureOptions& options,
                       const std::string& model,
                       const std::unordered_map<const void*, std::optional<FieldType>>& inferred) {
  const auto named = root.named_modules("", /*include_self=*/false);
  std::vector<std::string> names;
  for (const auto& item : named)
    names.push_back(item.key());
  detail::check_names(options, names, model);
  TreePoints tree;
  for (const auto& item : named) {
    const torch::nn::Module& module = *item.value();
    const auto* tap = dynamic_cast<const TapImpl*>(&module);
    if (!tap && !detail::selected(options, item.key())) continue;
    ProbePoint point;
    point.name = item.key();
    point.type = type_name(module);
    point.required = std::find(options.modules.begin(), options.modules.end(), item.key()) !=
                     options.modules.end();
    const auto declared = options.actions.find(item.key());
    const auto guess = inferred.find(&module);
    if (declared != options.actions.end()) {
      point.action = declared->second;
    } else if (tap) {
      point.action = tap->options.action();
    } else if (guess != inferred.end() && guess->second) {
      point.action = LatentAction::fields(*guess->second);
    } else if (const auto* eq = dynamic_cast<const EquivariantModule*>(&module)) {
      point.action = LatentAction::fields(eq->out_type());
    }
    tree.index[&module] = static_cast<int64_t>(tree.points.size());
    tree.points.push_back(std::move(point));
  }
  return tree;
}

/// Output action: declared, else `fallback`.
LatentAction output_action(const CaptureOptions& options, LatentAction fallback) {
  const auto declared = options.actions.find("output");
  return declared != options.actions.end() ? declared->second : std::move(fallback);
}

/// Field types of the children of a Sequential and of the Sequentials nested in it, by module
/// (eqnn::detail::output_field_type's rules; std::nullopt where unknown).
void infer_nested(const torch::nn::SequentialImpl& seq, std::optional<FieldType> current,
                  std::unordered_map<const void*, std::optional<FieldType>>& out) {
  for (const auto& child : seq.children()) {
    std::optional<FieldType> in = current;
    if (!in)
      if (const auto* eq = dynamic_cast<const EquivariantModule*>(child.get())) in = eq->in_type();
    if (const auto* nested = dynamic_cast<const torch::nn::SequentialImpl*>(child.get()))
      infer_nested(*nested, in, out);
    current = eqnn::detail::output_field_type(*child, in, nullptr);
    out[child.get()] = current;
  }
}

/// Runs a Sequential child by child, descending into nested Sequentials that contain points.
torch::Tensor walk(torch::nn::SequentialImpl& seq, const torch::Tensor& x,
                   const std::unordered_map<const void*, int64_t>& index,
                   detail::PointObserver& observer) {
  torch::Tensor h = x;
  for (auto& child : seq) {
    auto* nested = dynamic_cast<torch::nn::SequentialImpl*>(child.ptr().get());
    bool inner = false;
    if (nested)
      for (const auto& m : nested->modules(/*include_self=*/false))
        inner = inner || index.count(m.get()) > 0;
    h = inner ? walk(*nested, h, index, observer) : child.forward<torch::Tensor>(h);
    observer.observe(child.ptr().get(), h);
  }
  return h;
}

}  // namespace

ProbedModel model_of(const torch::nn::Sequential& sequential, const std::string& name,
                     const CaptureOptions& options) {
  TORCH_CHECK(!sequential->is_empty(), "eqnn::probe::model_of: the Sequential '", name,
              "' is empty");
  std::unordered_map<const void*, std::optional<FieldType>> inferred;
  infer_nested(*sequential, std::nullopt, inferred);
  auto tree = std::make_shared<TreePoints>(tree_points(*sequential, options, name, inferred));
  ProbedModel model;
  model.name = name;
  model.points = tree->points;
  const auto last = inferred.find(sequential->children().back().get());
  model.output_action = output_action(options, last != inferred.end() && last->second
                                                   ? LatentAction::fields(*last->second)
                                                   : LatentAction::plane());
  auto impl = sequential.ptr();
  model.run = [impl, tree](const torch::Tensor& x, const CaptureSink& sink) {
    detail::PointObserver observer(tree->index, sink);
    ScopedOutputObserver scope(&observer);
    return walk(*impl, x, tree->index, observer);
  };
  return model;
}

ProbedModel model_of(const std::shared_ptr<torch::nn::Module>& root,
                     std::function<torch::Tensor(const torch::Tensor&)> forward,
                     const std::string& name, const CaptureOptions& options) {
  TORCH_CHECK(root != nullptr && forward != nullptr, "eqnn::probe::model_of: model '", name,
              "' needs a module and its forward");
  auto tree = std::make_shared<TreePoints>(tree_points(*root, options, name, {}));
  ProbedModel model;
  model.name = name;
  model.points = tree->points;
  const auto* eq = dynamic_cast<const EquivariantModule*>(root.get());
  model.output_action =
      output_action(options, eq ? LatentAction::fields(eq->out_type()) : LatentAction::plane());
  model.run = [root, forward, tree](const torch::Tensor& x, const CaptureSink& sink) {
    detail::PointObserver observer(tree->index, sink);
    ScopedOutputObserver scope(&observer);
    (void)root;  // kept alive with the model
    return forward(x);
  };
  return model;
}

}  // namespace probe
}  // namespace eqnn
