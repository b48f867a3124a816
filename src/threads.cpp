#include "eqnn/threads.h"

#include <ATen/Parallel.h>

#include <malloc.h>

#include <cstdlib>
#include <thread>

namespace eqnn {

int configure_threads() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (env == nullptr || *env == '\0') {
    const unsigned hw = std::thread::hardware_concurrency();
    if (hw > 0) at::set_num_threads(static_cast<int>(hw));
  }
  return at::get_num_threads();
}

void tune_allocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace eqnn
