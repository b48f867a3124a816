// Thread-count policy for programs and benchmarks.
#pragma once

namespace eqnn {

/// Debian's LibTorch starts with one intra-op thread. Unless the user set OMP_NUM_THREADS, use all
/// hardware threads. Returns the thread count now in effect.
int configure_threads();

}  // namespace eqnn
