#include "stage_sums.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>

#include "../ops/action_rows.h"
#include "sums.h"

#if EQNN_X86_DISPATCH
#include <immintrin.h>
#endif

namespace eqnn {
namespace probe {
namespace {

/// Entries per invariance segment (a sample's copies are read segment by segment).
constexpr int64_t kSegment = sums::kBlock * 16;

bool channels_last_layout(const torch::Tensor& y) {
  return !y.is_contiguous() && y.is_contiguous(at::MemoryFormat::ChannelsLast);
}

detail::GroupActionParams action_params(const torch::Tensor& y, const ExactAction& action) {
  detail::GroupActionParams p{};
  p.group = action.group.tables();
  p.num_elements = 1;
  p.elements[0] = static_cast<int8_t>(action.element);
  p.regular = action.kind == FieldKind::Regular;
  p.channels_last = channels_last_layout(y);
  p.batch = 1;
  p.channels = y.size(1);
  p.rows = y.size(2);
  p.cols = y.size(3);
  return p;
}

bool is_identity(const ExactAction& action) { return action.group.d4_index(action.element) == 0; }

/// Invariance sums of entries [begin, end) of one sample's copies (see sums::centroid_sums).
template <typename scalar_t>
EQNN_SIMD_CLONES void invariance_task(const scalar_t* const* copies, int64_t k_count,
                                      int64_t begin, int64_t end, double* diff2, double* a2,
                                      double* c2) {
  sums::centroid_sums(copies, k_count, begin, end, diff2, a2, c2);
}

template <typename scalar_t>
EQNN_SIMD_CLONES double norm_task(const scalar_t* x, int64_t d) {
  return sums::squared_norm(x, d);
}

/// |y_k - g.y_0|^2 of one sample, row by row: row r of g.y_0 is built in `row` (cache-resident)
/// and compared at once.
template <typename scalar_t>
EQNN_SIMD_CLONES double equivariance_task(const scalar_t* yk, const scalar_t* y0,
                                          const ops::ActionRows& walk, scalar_t* row) {
  const int64_t length = walk.row_length();
  double total = 0;
  for (int64_t r = 0; r < walk.rows(); ++r) {
    walk.fill(r, y0, row);
    total += sums::squared_distance(yk + r * length, row, length);
  }
  return total;
}

#if EQNN_X86_DISPATCH
__attribute__((target("avx2,fma"))) inline double horizontal_sum(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  return static_cast<double>(((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
                             ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])));
}

/// equivariance_task for float channels_last maps whose channel pattern permutes within groups
/// of 8 channels (fields of order 1, 2, 4 or 8; C a multiple of 8): each pixel's 8-channel groups
/// are loaded from the source pixel and permuted in a register (vpermps), with no row buffer.
/// Float partial sums cover at most sums::kBlock entries, as everywhere.
__attribute__((target("avx2,fma"))) double equivariance_task_avx2(const float* yk, const float* y0,
                                                                  const ops::ActionRows& walk,
                                                                  int64_t channels, int64_t cols) {
  alignas(32) int32_t lanes[8];
  const int64_t order = walk.order();
  for (int64_t l = 0; l < 8; ++l)
    lanes[l] = static_cast<int32_t>(l / order * order + walk.channel_source()[l % order]);
  const __m256i pattern = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
  constexpr int64_t kVectorsPerBlock = sums::kBlock / 8;
  double total = 0;
  __m256 acc = _mm256_setzero_ps();
  int64_t vectors = 0;
  for (int64_t r = 0; r < walk.rows(); ++r) {
    const ops::ActionRows::Source src = walk.source(r);
    const float* from = y0 + src.offset;
    const float* to = yk + r * cols * channels;
    for (int64_t j = 0; j < cols; ++j, from += src.step, to += channels)
      for (int64_t c = 0; c < channels; c += 8) {
        const __m256 target = _mm256_permutevar8x32_ps(_mm256_loadu_ps(from + c), pattern);
        const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(to + c), target);
        acc = _mm256_fmadd_ps(d, d, acc);
        if (++vectors == kVectorsPerBlock) {
          total += horizontal_sum(acc);
          acc = _mm256_setzero_ps();
          vectors = 0;
        }
      }
  }
  return total + horizontal_sum(acc);
}
#endif

/// The vectorised equivariance pass where it applies (x86-64 with AVX2 and FMA, float
/// channels_last, channel groups of 8); false otherwise.
bool equivariance_fast(const float* yk, const float* y0, const ops::ActionRows& walk,
                       const torch::Tensor& y, double* total) {
#if EQNN_X86_DISPATCH
  static const bool cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (cpu && walk.channels_last() && 8 % walk.order() == 0 && y.size(1) % 8 == 0) {
    *total = equivariance_task_avx2(yk, y0, walk, y.size(1), y.size(3));
    return true;
  }
#else
  (void)yk, (void)y0, (void)walk, (void)y, (void)total;
#endif
  return false;
}

bool equivariance_fast(const double*, const double*, const ops::ActionRows&, const torch::Tensor&,
                       double*) {
  return false;
}

}  // namespace

bool stage_sums_supported(const torch::Tensor& y, const std::vector<ExactAction>& actions) {
  if (!y.is_cpu() || y.dim() != 4 ||
      (y.scalar_type() != torch::kFloat && y.scalar_type() != torch::kDouble))
    return false;
  if (!y.is_contiguous() && !y.is_contiguous(at::MemoryFormat::ChannelsLast)) return false;
  for (const ExactAction& a : actions) {
    if (a.element < 0 || a.element >= a.group.order()) return false;
    const bool quarter_turn = detail::d4_rotation(a.group.d4_index(a.element)) % 2 == 1;
    if (quarter_turn && y.size(2) != y.size(3)) return false;
    if (a.kind == FieldKind::Regular && y.size(1) % a.group.order() != 0) return false;
  }
  return true;
}

StageSums stage_sums(const torch::Tensor& y, int64_t copies, int64_t first,
                     const std::vector<ExactAction>& actions, bool equivariance, bool invariance) {
  TORCH_CHECK(copies > first && y.size(0) % copies == 0 &&
                  static_cast<int64_t>(actions.size()) == copies &&
                  stage_sums_supported(y, actions),
              "eqnn::probe::stage_sums: unsupported input of shape ", y.sizes());
  const int64_t n = y.size(0) / copies, d = y.numel() / y.size(0);
  const int64_t used = copies - first;
  StageSums out;
  out.copies = copies;
  out.samples = n;
  out.norm2.assign(copies * n, 0.0);
  if (equivariance) out.equivariance2.assign(copies * n, 0.0);
  if (invariance) {
    out.invariance2.assign(copies * n, 0.0);
    out.centroid2.assign(n, 0.0);
  }
  std::vector<ops::ActionRows> walks;
  for (const ExactAction& a : actions)
    walks.emplace_back(action_params(y, a), 0);

  // One parallel region. Work item (i, p) is part p of sample i; a sample is split into `parts`
  // parts only when there are fewer samples than threads. Part p takes the invariance segments
  // s = p (mod parts) and the copies k = p (mod parts) for norms and equivariance, in that order,
  // so the equivariance pass finds the sample's copies in cache. Segment sums are added in a fixed
  // order afterwards: results do not depend on the thread count.
  const int64_t parts = std::max<int64_t>(1, (at::get_num_threads() + n - 1) / n);
  const int64_t segments = invariance ? (d + kSegment - 1) / kSegment : 0;
  const int64_t width = used + 1;  // per segment: diff2 of each used copy, |c|^2; then each a2
  std::vector<double> partial(static_cast<size_t>(n * segments * 2 * width), 0.0);

  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "eqnn::probe::stage_sums", [&] {
    const scalar_t* base = y.data_ptr<scalar_t>();
    const auto copy = [&](int64_t k, int64_t i) { return base + (k * n + i) * d; };
    at::parallel_for(0, n * parts, 1, [&](int64_t begin, int64_t end) {
      std::vector<const scalar_t*> ys(used);
      std::vector<scalar_t> row;
      for (int64_t item = begin; item < end; ++item) {
        const int64_t i = item / parts, part = item % parts;
        for (int64_t k = 0; k < used; ++k)
          ys[k] = copy(first + k, i);
        for (int64_t s = part; s < segments; s += parts) {
          double* t = partial.data() + (i * segments + s) * 2 * width;
          invariance_task(ys.data(), used, s * kSegment, std::min(d, (s + 1) * kSegment), t,
                          t + width, t + used);
        }
        for (int64_t k = part; k < copies; k += parts) {
          if (!invariance || k < first) out.norm2[k * n + i] = norm_task(copy(k, i), d);
          if (!equivariance || k < first) continue;
          const scalar_t* yk = copy(k, i);
          const scalar_t* y0 = copy(0, i);
          const ops::ActionRows& walk = walks[k];
          double& total = out.equivariance2[k * n + i];
          if (k == 0 || is_identity(actions[k])) {
            total = sums::squared_distance(yk, y0, d);
          } else if (!equivariance_fast(yk, y0, walk, y, &total)) {
            row.resize(static_cast<size_t>(walk.row_length()));
            total = equivariance_task(yk, y0, walk, row.data());
          }
        }
      }
    });
  });
  for (int64_t i = 0; i < n; ++i)
    for (int64_t s = 0; s < segments; ++s) {
      const double* t = partial.data() + (i * segments + s) * 2 * width;
      for (int64_t k = 0; k < used; ++k) {
        out.invariance2[(first + k) * n + i] += t[k];
        out.norm2[(first + k) * n + i] += t[width + k];
      }
      out.centroid2[i] += t[used];
    }
  return out;
}

}  // namespace probe
}  // namespace eqnn
