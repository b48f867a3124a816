// Process settings for programs and benchmarks: thread count, allocator.
#pragma once

namespace eqnn {

/// Debian's LibTorch starts with one intra-op thread. Unless the user set OMP_NUM_THREADS, use all
/// hardware threads. Returns the thread count now in effect.
int configure_threads();

/// glibc returns every block above its mmap threshold to the kernel on free, so a loop that
/// allocates the same large feature maps again and again spends most of its time in page faults.
/// Raises the threshold to its maximum (32 MiB) and keeps freed memory for reuse. Process-wide:
/// for programs (the eqnn CLI and the benchmarks call it), not called by the library itself.
void tune_allocator();

}  // namespace eqnn
