#include "eqnn/threads.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace eqnn {

int configure_threads(int requested, std::string* warning) {
  TORCH_CHECK(requested >= 0,
              "eqnn::configure_threads: expected a thread count >= 0 (0: the "
              "default), got ",
              requested);
  if (warning != nullptr) warning->clear();
  const unsigned hw = std::thread::hardware_concurrency();  // 0: unknown
  if (requested > 0) {
    int threads = requested;
    if (hw > 0 && static_cast<unsigned>(requested) > hw) {
      threads = static_cast<int>(hw);
      if (warning != nullptr)
        *warning = std::to_string(requested) + " threads requested, but this machine has " +
                   std::to_string(hw) + " hardware threads: using " + std::to_string(hw);
    }
    at::set_num_threads(threads);
    return at::get_num_threads();
  }
  const char* env = std::getenv("OMP_NUM_THREADS");
  if ((env == nullptr || *env == '\0') && hw > 0) at::set_num_threads(static_cast<int>(hw));
  return at::get_num_threads();
}

namespace {

std::atomic<bool> g_tuned{false};

std::atomic<bool>& automatic_tuning() {
  static std::atomic<bool> enabled{[] {
    const char* env = std::getenv("EQNN_TUNE_ALLOCATOR");
    return env == nullptr || std::string(env) != "0";
  }()};
  return enabled;
}

}  // namespace

void tune_allocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  g_tuned = true;
}

void set_automatic_allocator_tuning(bool enabled) {
  automatic_tuning() = enabled;
}

bool apply_default_allocator_tuning() {
  if (g_tuned) return true;  // every layer's constructor calls this: no lock once applied
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (!g_tuned && automatic_tuning()) tune_allocator();
  return g_tuned;
}

}  // namespace eqnn
