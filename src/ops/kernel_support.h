// Helpers shared by the op implementations (internal): the CPU loop over the kernels' element
// functions, memory-format handling, and the glue to the CUDA launchers.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <initializer_list>

#include "eqnn/detail/cuda_launch.h"

namespace eqnn {
namespace ops {
namespace support {

/// f(n) for n in [0, total), split across LibTorch's intra-op threads.
template <typename F>
void cpu_for(int64_t total, const F& f) {
  constexpr int64_t kGrain = 2048;
  at::parallel_for(0, total, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n)
      f(n);
  });
}

/// f(begin, end) over chunks of [0, rows) split across LibTorch's intra-op threads, each chunk
/// about 16384 units of work (`work_per_row` units a row): for row loops that keep scratch space
/// per chunk.
template <typename F>
void cpu_for_row_ranges(int64_t rows, int64_t work_per_row, const F& f) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, work_per_row));
  at::parallel_for(0, rows, grain, f);
}

/// The coordinates of a row index in a row-major grid of `extents` (at most 4 axes, the last
/// fastest), advanced in place from row to row: a row loop pays the divisions of its first row
/// only.
class RowCounter {
 public:
  RowCounter(std::initializer_list<int64_t> extents, int64_t first) {
    axes_ = static_cast<int>(extents.size());
    std::copy(extents.begin(), extents.end(), extents_);
    for (int a = axes_ - 1; a > 0; --a) {
      index_[a] = first % extents_[a];
      first /= extents_[a];
    }
    index_[0] = first;  // the first axis is not wrapped
  }
  int64_t operator[](int axis) const { return index_[axis]; }
  void advance() {
    for (int a = axes_ - 1; a > 0; --a) {
      if (++index_[a] < extents_[a]) return;
      index_[a] = 0;
    }
    ++index_[0];
  }

 private:
  int axes_ = 0;
  int64_t extents_[4] = {1, 1, 1, 1};
  int64_t index_[4] = {0, 0, 0, 0};
};

/// f(row) for row in [0, rows), each row a contiguous run of `row_length` entries: the CPU paths
/// set a row up with the kernels' shared index math once, then run a simple inner loop.
template <typename F>
void cpu_for_rows(int64_t rows, int64_t row_length, const F& f) {
  cpu_for_row_ranges(rows, row_length, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      f(r);
  });
}

/// The dense format a 4-D feature map is kept in: channels_last if that is how it is laid out.
at::MemoryFormat feature_format(const at::Tensor& x);

/// Throws for tensors the ops cannot run on (CUDA tensors when eqnn was built without CUDA, other
/// devices, non-floating dtypes).
void check_supported(const at::Tensor& x, const char* op);

#ifdef EQNN_WITH_CUDA
detail::cuda::ScalarKind scalar_kind(at::ScalarType type, const char* op);
/// PyTorch's current stream when LibTorch has CUDA, else the default stream.
void* current_stream();
/// Throws with the op name if a launch failed.
void check_launch(const char* error, const char* op);
#endif

}  // namespace support
}  // namespace ops
}  // namespace eqnn
