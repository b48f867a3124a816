/// \file
/// Seeing module outputs from outside a forward pass, for probes and checks that must look inside
/// modules whose forward they do not control (a user's residual block, a TorchScript ResNet).
///
/// LibTorch's C++ modules have no forward hooks. Instead, eqnn layers report their output to the
/// calling thread's observer at the end of every forward, and any module can do the same in one
/// line (`return eqnn::report_output(*this, y);`). With no observer installed a report costs one
/// thread-local load. A probe installs an observer with ScopedOutputObserver and maps the reporting
/// module to its qualified name; TorchScript modules report through the op eqnn::capture, which the
/// probe inserts after each submodule call (src/probe/torchscript_capture.cpp).
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

namespace eqnn {

/// Receives the outputs that modules report (report_output) on the thread it is installed on.
class OutputObserver {
 public:
  virtual ~OutputObserver() = default;
  /// `module` identifies the reporting module: a torch::nn::Module* for C++ modules, the
  /// c10::ivalue::Object* of a TorchScript module. The tensor is the module's output.
  virtual void observe(const void* module, const torch::Tensor& output) = 0;
};

/// The calling thread's observer (nullptr when none is installed).
OutputObserver* current_output_observer();

/// Installs `observer` for the calling thread while in scope (restoring the previous one after).
class ScopedOutputObserver {
 public:
  /// Installs `observer` (nullptr: none) for the calling thread.
  explicit ScopedOutputObserver(OutputObserver* observer);
  /// Restores the observer that was installed before.
  ~ScopedOutputObserver();
  ScopedOutputObserver(const ScopedOutputObserver&) = delete;
  ScopedOutputObserver& operator=(const ScopedOutputObserver&) = delete;

 private:
  OutputObserver* previous_;
};

/// Reports `output` as the output of `module` to the calling thread's observer, if any, and
/// returns it, so that a forward can end with `return eqnn::report_output(*this, y);`.
inline const torch::Tensor& report_output(const torch::nn::Module& module,
                                          const torch::Tensor& output) {
  if (OutputObserver* observer = current_output_observer()) observer->observe(&module, output);
  return output;
}

}  // namespace eqnn
