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
/// allocates the same large feature maps again and again spends most of its time in page faults
/// (measured: the lifting layer's eval forward and a plain conv2d 6-10x slower in most processes,
/// bench/analysis.md). Raises the threshold to its maximum (32 MiB) and keeps up to 1 GiB of freed
/// memory for reuse instead of trimming it. Process-wide and not undone; a no-op without glibc.
///
/// The library applies it by default: the first eqnn layer a process builds (and run_probe) calls
/// apply_default_allocator_tuning(). Opt out with EQNN_TUNE_ALLOCATOR=0 in the environment or
/// set_automatic_allocator_tuning(false) before that; call tune_allocator() to apply it anyway.
void tune_allocator();

/// Whether the library applies tune_allocator() by itself (default true, or false when
/// EQNN_TUNE_ALLOCATOR=0 is set). Takes effect only before the tuning was applied.
void set_automatic_allocator_tuning(bool enabled);

/// Applies tune_allocator() once per process unless opted out (see tune_allocator); returns
/// whether the tuning is in effect (applied here, earlier, or by a call to tune_allocator()).
bool apply_default_allocator_tuning();

}  // namespace eqnn
