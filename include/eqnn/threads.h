/// \file
/// Process settings for programs and benchmarks: thread count, allocator.
#pragma once

#include <string>

namespace eqnn {

/// Debian's LibTorch starts with one intra-op thread. requested == 0: unless the user set
/// OMP_NUM_THREADS, use all hardware threads. requested > 0: that many, capped at the hardware
/// thread count (more threads than the machine has only contend for its cores); when capped,
/// *warning (if given) says so, else it is cleared. Throws for requested < 0. Returns the thread
/// count now in effect.
int configure_threads(int requested = 0, std::string* warning = nullptr);

/// glibc returns every block above its mmap threshold to the kernel on free, so a loop that
/// allocates the same large feature maps again and again spends most of its time in page faults.
/// Raises the threshold to its maximum (32 MiB) and keeps freed memory for reuse. Process-wide:
/// for programs (the eqnn CLI and the benchmarks call it), not called by the library itself.
void tune_allocator();

}  // namespace eqnn
