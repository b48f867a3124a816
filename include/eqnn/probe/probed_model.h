/// \file
/// A model as the probe sees it: its own forward, run as it is (skip connections, functional ops,
/// any call order), plus the points whose outputs are captured during that forward, each with the
/// action of the transforms on it. Builders take a torch::nn::Sequential, any LibTorch module tree
/// (with the forward to call), a TorchScript module of any structure, or a plain list of stages.
///
/// How outputs are captured (docs/ARCHITECTURE.md, "Probes"):
/// - C++ modules: eqnn layers report every output to the thread's OutputObserver
///   (eqnn/nn/output_observer.h); any other module is probed inside with one line, either a
///   probe::Tap module in its forward or `return eqnn::report_output(*this, y);`. The children of a
///   Sequential the probe drives (the root and Sequentials nested in it) are captured directly.
/// - TorchScript: every submodule call in the module's graphs (of a private clone) is followed by
///   the op eqnn::capture, which reports the submodule's output; nothing is re-run.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>
#include <torch/script.h>
#include <torch/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "eqnn/nn/output_observer.h"
#include "eqnn/probe/latent_action.h"

namespace eqnn {
namespace probe {

/// A place in a model whose output the probe measures.
struct ProbePoint {
  std::string name;  ///< qualified module name as PyTorch prints it ("layer2.0.conv1"), or "output"
  std::string type;  ///< module type ("Conv2d", "eqnn::GroupConv2d"); empty for the output
  LatentAction action = LatentAction::plane();  ///< how the transforms act on its output
  /// Asked for by name: the probe fails, naming it, if it produces no output.
  bool required = false;
  /// "layer2.0.conv1 (Conv2d)".
  std::string label() const { return type.empty() ? name : name + " (" + type + ")"; }
};

/// Receives the outputs captured during one forward: the index of the point in
/// ProbedModel::points and its output, in the order the model produces them.
using CaptureSink = std::function<void(int64_t point, const torch::Tensor& output)>;

/// A model as run_probe sees it (build one with model_of or sequence_model).
struct ProbedModel {
  std::string name;                ///< the model's name in reports
  std::vector<ProbePoint> points;  ///< the captured points; `run` reports them by index
  /// How the transforms act on the model's output (probed as the stage "output" unless the last
  /// captured output is the model output itself).
  LatentAction output_action = LatentAction::plane();
  /// Runs the model's forward on x, reporting captured outputs to `sink` as they are produced, and
  /// returns the model's output.
  std::function<torch::Tensor(const torch::Tensor& x, const CaptureSink& sink)> run;
};

/// Which submodules to probe, and declared actions.
struct CaptureOptions {
  /// Qualified names to probe ("layer1", "layer2.0.downsample", "fc"); each must produce an output.
  std::vector<std::string> modules;
  /// Also every submodule down to this depth (1: the top-level children); 0 with `modules` given:
  /// only those. eqnn::probe::Tap modules are probed at any depth.
  int64_t depth = 1;
  /// Declared actions by qualified name ("output" for the model's output), overriding inferred
  /// ones: e.g. {"layer1", parse_latent_action("regular:p4")}.
  std::map<std::string, LatentAction> actions;
};

/// One stage of a hand-made model: a function of the previous stage's output.
struct SequenceStage {
  /// A stage computing `forward`, whose output the transforms act on by `action`.
  SequenceStage(std::string name, std::function<torch::Tensor(const torch::Tensor&)> forward,
                LatentAction action = LatentAction::plane(), std::string type = "")
      : name(std::move(name)),
        forward(std::move(forward)),
        action(std::move(action)),
        type(std::move(type)) {}

  std::string name;  ///< the stage's name in reports
  /// The stage's function of the previous stage's output (the input for the first).
  std::function<torch::Tensor(const torch::Tensor&)> forward;
  LatentAction action;  ///< how the transforms act on the stage's output
  std::string type;     ///< a type shown after the name, e.g. "Conv2d"; may be empty
};

/// Stages run in order; each stage's output is a probe point.
ProbedModel sequence_model(const std::string& name, std::vector<SequenceStage> stages);

/// A Sequential (the probe runs its children itself, and those of Sequentials nested in it). The
/// field types of eqnn layers give exact actions, which pointwise modules, Flatten, eval-mode
/// Dropout and Linear on invariant features carry on (eqnn::infer_field_types' rules); other
/// children get the plane action. Default points: the top-level children and the output.
ProbedModel model_of(const torch::nn::Sequential& sequential, const std::string& name,
                     const CaptureOptions& options = {});

/// Any LibTorch module tree: `forward` runs it (e.g. [net](const torch::Tensor& x) { return
/// net->forward(x); }). Points: eqnn layers, Taps and modules that report themselves, selected by
/// `options`; their actions come from their field types (EquivariantModule) or are declared.
ProbedModel model_of(const std::shared_ptr<torch::nn::Module>& root,
                     std::function<torch::Tensor(const torch::Tensor&)> forward,
                     const std::string& name, const CaptureOptions& options = {});

/// A module holder with a forward (e.g. a TORCH_MODULE of the user's own network).
template <typename ModuleType>
ProbedModel model_of(const torch::nn::ModuleHolder<ModuleType>& module, const std::string& name,
                     const CaptureOptions& options = {}) {
  auto impl = module.ptr();
  return model_of(
      impl, [impl](const torch::Tensor& x) { return impl->forward(x); }, name, options);
}

/// A TorchScript module, scripted or traced, of any structure: its own forward runs on a private
/// clone whose submodule calls report their outputs. Points: the submodules selected by
/// `options` (plane action for maps, not applicable for features without a plane, unless
/// declared), each call of a submodule called more than once reported as "name#1", "name#2".
/// Throws, naming the module, for a selected submodule that returns something other than a tensor.
ProbedModel model_of(const torch::jit::Module& module, const std::string& name,
                     const CaptureOptions& options = {});

/// Loads a TorchScript file; for files that are not TorchScript (an eager torch.save(model)
/// pickle, a state_dict, a legacy torch.save file) throws one line saying what the file is and how
/// to save the model as TorchScript.
torch::jit::Module load_torchscript(const std::string& path);

/// Options of Tap, an identity module whose output is probed (with the declared action, else the
/// plane action). Put one in a custom module's forward to probe it inside.
struct TapOptions {
  /// The plane action.
  TapOptions() = default;
  /// The declared action, so that `Tap(LatentAction::invariant())` works.
  /* implicit */ TapOptions(LatentAction action) : action_(std::move(action)) {}
  /// How the transforms act on the tapped output (a declaration in CaptureOptions::actions wins).
  TORCH_ARG(LatentAction, action) = LatentAction::plane();
};

/// The Tap module: returns its input unchanged and reports it to the probe's observer.
class TapImpl : public torch::nn::Cloneable<TapImpl> {
 public:
  /// A tap with the given options.
  explicit TapImpl(TapOptions options = {}) : options(std::move(options)) {}
  /// Nothing to (re)create: the module has no parameters.
  void reset() override {}
  /// Reports x (report_output) and returns it.
  torch::Tensor forward(const torch::Tensor& x) { return report_output(*this, x); }
  /// "eqnn::probe::Tap(<action name>)".
  void pretty_print(std::ostream& stream) const override;

  TapOptions options;  ///< the options the tap was built with
};
/// The module holder of TapImpl: a member `eqnn::probe::Tap tap;` of a custom module.
TORCH_MODULE(Tap);

}  // namespace probe
}  // namespace eqnn
