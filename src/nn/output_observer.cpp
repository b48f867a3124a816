#include "eqnn/nn/output_observer.h"

namespace eqnn {
namespace {
thread_local OutputObserver* t_observer = nullptr;
}  // namespace

OutputObserver* current_output_observer() {
  return t_observer;
}

ScopedOutputObserver::ScopedOutputObserver(OutputObserver* observer) : previous_(t_observer) {
  t_observer = observer;
}

ScopedOutputObserver::~ScopedOutputObserver() {
  t_observer = previous_;
}

}  // namespace eqnn
