// TorchScript models of any structure: every submodule call in a private clone's graphs is
// followed by eqnn::capture(module, output), which reports the output to the thread's observer
// (the probe's), keyed by the submodule object. The model runs its own forward; nothing is
// re-run, and skip connections, functional ops and any call order just work.
#include <ATen/core/dispatch/Dispatcher.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/library.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_set>

#include "../io/zip_check.h"
#include "capture.h"
#include "eqnn/probe/probed_model.h"

namespace eqnn {
namespace probe {
namespace {

constexpr const char* kCaptureOp = "eqnn::capture";

/// eqnn::capture(Any module, Tensor(a) output) -> Tensor(a): reports and returns the output.
void capture_kernel(const c10::OperatorHandle&, torch::jit::Stack* stack) {
  const torch::Tensor output = stack->back().toTensor();
  const c10::IValue module = (*stack)[stack->size() - 2];
  if (OutputObserver* observer = current_output_observer())
    if (module.isObject()) observer->observe(&module.toObjectRef(), output);
  stack->pop_back();
  stack->pop_back();
  stack->emplace_back(output);
}

TORCH_LIBRARY_FRAGMENT(eqnn, m) {
  m.def("capture(Any module, Tensor(a) output) -> Tensor(a)",
        torch::CppFunction::makeFromBoxedFunction<&capture_kernel>());
}

/// "__torch__.torchvision.models.resnet.BasicBlock" -> "BasicBlock".
std::string type_name(const torch::jit::Module& module) {
  const auto qualified = module.type()->name();
  return qualified ? qualified->name() : "?";
}

void for_each_node(torch::jit::Block* block, const std::function<void(torch::jit::Node*)>& fn) {
  for (torch::jit::Node* node : block->nodes()) {
    fn(node);
    for (torch::jit::Block* inner : node->blocks())
      for_each_node(inner, fn);
  }
}

/// Inserts a capture after every submodule forward call that returns a tensor, in every method of
/// every module type of `root`. Returns the types whose forward returns something else, with that
/// type's description.
std::map<const c10::ClassType*, std::string> insert_captures(const torch::jit::Module& root) {
  std::map<const c10::ClassType*, std::string> non_tensor;
  std::unordered_set<const c10::ClassType*> done;
  const c10::Symbol capture = c10::Symbol::fromQualString(kCaptureOp);
  for (const auto& item : root.named_modules()) {
    const c10::ClassTypePtr type = item.value.type();
    if (!done.insert(type.get()).second) continue;
    for (torch::jit::Function* fn : type->methods()) {
      const std::shared_ptr<torch::jit::Graph> graph = torch::jit::toGraphFunction(*fn).graph();
      std::vector<torch::jit::Node*> calls;
      for_each_node(graph->block(), [&](torch::jit::Node* node) {
        if (node->kind() == c10::prim::CallMethod && node->s(c10::attr::name) == "forward" &&
            node->inputs().size() >= 1 && node->input(0)->type()->cast<c10::ClassType>())
          calls.push_back(node);
      });
      for (torch::jit::Node* call : calls) {
        const auto* callee = call->input(0)->type()->cast<c10::ClassType>().get();
        if (call->outputs().size() != 1 || !call->output()->type()->cast<c10::TensorType>()) {
          non_tensor[callee] =
              call->outputs().size() == 1 ? call->output()->type()->str() : "several values";
          continue;
        }
        torch::jit::Node* cap = graph->create(capture, {call->input(0), call->output()}, 1);
        cap->output()->setType(call->output()->type());
        cap->insertAfter(call);
        call->output()->replaceAllUsesAfterNodeWith(cap, cap->output());
      }
    }
  }
  return non_tensor;
}

}  // namespace

ProbedModel model_of(const torch::jit::Module& module, const std::string& name,
                     const CaptureOptions& options) {
  // A private clone (sharing the tensors) whose graphs may be edited: its class types are new.
  auto clone = std::make_shared<torch::jit::Module>(module.clone(/*inplace=*/true));
  const auto non_tensor = insert_captures(*clone);

  std::vector<std::string> names;
  for (const auto& item : clone->named_modules())
    names.push_back(item.name);
  detail::check_names(options, names, name);

  ProbedModel model;
  model.name = name;
  auto index = std::make_shared<std::unordered_map<const void*, int64_t>>();
  for (const auto& item : clone->named_modules()) {
    if (item.name.empty() || !detail::selected(options, item.name)) continue;
    const auto bad = non_tensor.find(item.value.type().get());
    TORCH_CHECK(bad == non_tensor.end(), "eqnn::probe: submodule '", item.name, "' (",
                type_name(item.value), ") of model '", name, "' returns ", bad->second,
                ", not one tensor; probe the submodules inside it or the module that uses its "
                "output instead (choose them with --modules / CaptureOptions::modules)");
    ProbePoint point;
    point.name = item.name;
    point.type = type_name(item.value);
    point.required = std::find(options.modules.begin(), options.modules.end(), item.name) !=
                     options.modules.end();
    const auto declared = options.actions.find(item.name);
    if (declared != options.actions.end()) point.action = declared->second;
    (*index)[item.value._ivalue().get()] = static_cast<int64_t>(model.points.size());
    model.points.push_back(std::move(point));
  }
  const auto declared = options.actions.find("output");
  if (declared != options.actions.end()) model.output_action = declared->second;
  model.run = [clone, index](const torch::Tensor& x, const CaptureSink& sink) {
    detail::PointObserver observer(*index, sink);
    ScopedOutputObserver scope(&observer);
    const c10::IValue out = clone->forward({x});
    TORCH_CHECK(out.isTensor(), "eqnn::probe: the model's forward returns ", out.tagKind(),
                ", not one tensor");
    return out.toTensor();
  };
  return model;
}

torch::jit::Module load_torchscript(const std::string& path) {
  TORCH_CHECK(std::filesystem::is_regular_file(path), "eqnn::probe: model file '", path,
              "' does not exist or is not a file");
  const std::string how =
      "; save the model as TorchScript: torch.jit.script(model).save(path) or "
      "torch.jit.trace(model, example).save(path)";
  char magic[4] = {0, 0, 0, 0};
  std::ifstream(path, std::ios::binary).read(magic, 4);
  if (static_cast<unsigned char>(magic[0]) == 0x80)
    TORCH_CHECK(false, "eqnn::probe: '", path,
                "' is a legacy (non-zip) torch.save file, not TorchScript", how);
  TORCH_CHECK(magic[0] == 'P' && magic[1] == 'K', "eqnn::probe: '", path,
              "' is not a TorchScript file (not a zip archive)", how);
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "eqnn::probe: '", path, "' is not a readable PyTorch archive (",
                e.what_without_backtrace(), ")", how);
  }
  if (!reader->hasRecord("constants.pkl") && reader->hasRecord("data.pkl")) {
    const auto record = reader->getRecord("data.pkl");
    const std::string pickle(static_cast<const char*>(std::get<0>(record).get()),
                             std::min<size_t>(std::get<1>(record), 256));
    // A pickle (protocol 2, as torch.save writes) starts with PROTO and then the GLOBAL opcode
    // 'c' with "module\nclass\n" of the object it builds.
    std::string cls = "a Python object";
    const auto c = pickle.find('c');
    if (c != std::string::npos) {
      const auto nl1 = pickle.find('\n', c + 1), nl2 = pickle.find('\n', nl1 + 1);
      if (nl1 != std::string::npos && nl2 != std::string::npos)
        cls = pickle.substr(c + 1, nl1 - c - 1) + "." + pickle.substr(nl1 + 1, nl2 - nl1 - 1);
    }
    if (cls == "collections.OrderedDict")
      TORCH_CHECK(false, "eqnn::probe: '", path,
                  "' is a state_dict (torch.save(model.state_dict())): weights without the "
                  "model's code",
                  how);
    TORCH_CHECK(false, "eqnn::probe: '", path, "' is an eager torch.save(model) pickle of ", cls,
                ", not TorchScript", how);
  }
  reader.reset();
  const std::string damage = io::zip_damage(path);  // LibTorch can abort on a damaged archive
  TORCH_CHECK(damage.empty(), "eqnn::probe: '", path, "' is damaged: ", damage,
              " (a truncated or corrupted file)");
  try {
    return torch::jit::load(path);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "eqnn::probe: '", path,
                "' could not be loaded as TorchScript: ", e.what_without_backtrace());
  }
}

}  // namespace probe
}  // namespace eqnn
