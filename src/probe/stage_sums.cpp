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

/// Entries (all copies) below which a stage's sums run on the calling thread.
constexpr int64_t kMinParallelEntries = int64_t{1} << 14;

/// Work items per stage below which samples are split into parts (enough for 8 threads).
constexpr int64_t kMinItems = 8;

/// Entries per invariance segment (a sample's copies are read segment by segment).
constexpr int64_t kSegment = sums::kBlock * 16;

/// Whether to walk y as channels_last: whenever its strides allow it. A map that is dense in both
/// layouts (1x1 planes, one channel) has the same memory either way, and channels_last rows are
/// the longer ones (W C entries instead of W): a 1x1 map is one row, not C rows of one entry.
bool channels_last_layout(const torch::Tensor& y) {
  return y.is_contiguous(at::MemoryFormat::ChannelsLast);
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

bool is_identity(const ExactAction& action) {
  return action.group.d4_index(action.element) == 0;
}

/// Invariance sums of entries [begin, end) of one sample's copies (see sums::centroid_sums).
template <typename scalar_t>
EQNN_SIMD_CLONES void invariance_task(const scalar_t* const* copies, int64_t k_count, int64_t begin,
                                      int64_t end, double* diff2, double* a2, double* c2) {
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

/// The vpermps lane indices of a walk's channel pattern over 8 channels (order divides 8).
void channel_pattern(const ops::ActionRows& walk, int32_t* lanes) {
  const int64_t order = walk.order();
  for (int64_t l = 0; l < 8; ++l)
    lanes[l] = static_cast<int32_t>(l / order * order + walk.channel_source()[l % order]);
}

/// The centroid of entries [e, e + 8) over copies [first, copies).
__attribute__((target("avx2,fma"), always_inline)) inline __m256 centroid_of(
    const float* const* ys, int64_t first, int64_t copies, int64_t e, __m256 inv_used) {
  __m256 sum = _mm256_loadu_ps(ys[first] + e);
  for (int64_t k = first + 1; k < copies; ++k)
    sum = _mm256_add_ps(sum, _mm256_loadu_ps(ys[k] + e));
  return _mm256_mul_ps(sum, inv_used);
}

/// 8 source channels with the walk's channel pattern applied (none for trivial fields).
template <bool kPermute>
__attribute__((target("avx2,fma"), always_inline)) inline __m256 source_channels(const float* from,
                                                                                 __m256i pattern) {
  const __m256 v = _mm256_loadu_ps(from);
  return kPermute ? _mm256_permutevar8x32_ps(v, pattern) : v;
}

/// Adds (y - permuted source)^2 of one pixel's channels to a and b (alternating 8-channel groups).
template <bool kPermute>
__attribute__((target("avx2,fma"), always_inline)) inline void pixel_distance(
    const float* from, const float* y, int64_t channels, __m256i pattern, __m256& a, __m256& b) {
  int64_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    const __m256 d0 =
        _mm256_sub_ps(_mm256_loadu_ps(y + c), source_channels<kPermute>(from + c, pattern));
    const __m256 d1 =
        _mm256_sub_ps(_mm256_loadu_ps(y + c + 8), source_channels<kPermute>(from + c + 8, pattern));
    a = _mm256_fmadd_ps(d0, d0, a);
    b = _mm256_fmadd_ps(d1, d1, b);
  }
  if (c < channels) {
    const __m256 d0 =
        _mm256_sub_ps(_mm256_loadu_ps(y + c), source_channels<kPermute>(from + c, pattern));
    a = _mm256_fmadd_ps(d0, d0, a);
  }
}

/// Adds |y_k - g.y_0|^2 over pixels [j0, j1) of one row to q (four accumulators).
template <bool kPermute>
__attribute__((target("avx2,fma"), always_inline)) inline void row_distance(
    const float* from, int64_t step, const float* yk, int64_t j0, int64_t j1, int64_t channels,
    __m256i pattern, __m256* q) {
  int64_t j = j0;
  for (; j + 1 < j1; j += 2, from += 2 * step, yk += 2 * channels) {
    pixel_distance<kPermute>(from, yk, channels, pattern, q[0], q[1]);
    pixel_distance<kPermute>(from + step, yk + channels, channels, pattern, q[2], q[3]);
  }
  if (j < j1) pixel_distance<kPermute>(from, yk, channels, pattern, q[0], q[1]);
}

/// One pass over rows r = row0, row0 + row_step, ... of one sample's copies (float,
/// channels_last, C a multiple of 8 and at most sums::kBlock): every piece of at most kBlock
/// entries of a row is read once per copy while it is in L1, for its centroid, each copy's norm,
/// invariance and equivariance terms; g_k.y_0 comes from the source pixels of y_0 (whole sample
/// in cache) with the channel pattern applied in a register (vpermps). Adds to out: invariance2
/// [0, K), norm2 [K, 2K), equivariance2 [2K, 3K), centroid2 [3K]. Float partial sums cover at
/// most kBlock entries, as everywhere.
__attribute__((target("avx2,fma"))) void sample_pass_avx2(
    const float* const* ys, int64_t copies, int64_t first, const ops::ActionRows* walks,
    int64_t rows, int64_t cols, int64_t channels, int64_t row0, int64_t row_step, bool equivariance,
    bool invariance, double* out) {
  const int64_t used = copies - first;
  const __m256 inv_used = _mm256_set1_ps(1.0f / static_cast<float>(used));
  std::vector<int32_t> lanes(static_cast<size_t>(8 * copies));
  for (int64_t k = 0; k < copies; ++k)
    channel_pattern(walks[k], lanes.data() + 8 * k);
  const int64_t pixels = sums::kBlock / channels;
  alignas(32) float centroid[sums::kBlock];
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t r = row0; r < rows; r += row_step) {
    for (int64_t j0 = 0; j0 < cols; j0 += pixels) {
      const int64_t j1 = std::min(cols, j0 + pixels), e0 = (r * cols + j0) * channels;
      const int64_t len = (j1 - j0) * channels;
      // Two vectors per step into separate accumulators everywhere: one FMA chain per sum would
      // wait on the FMA latency at every step.
      if (invariance) {
        __m256 c0 = zero, c1 = zero;
        for (int64_t e = 0; e < len; e += 16) {
          const __m256 m0 = centroid_of(ys, first, copies, e0 + e, inv_used);
          _mm256_store_ps(centroid + e, m0);
          c0 = _mm256_fmadd_ps(m0, m0, c0);
          if (e + 8 < len) {
            const __m256 m1 = centroid_of(ys, first, copies, e0 + e + 8, inv_used);
            _mm256_store_ps(centroid + e + 8, m1);
            c1 = _mm256_fmadd_ps(m1, m1, c1);
          }
        }
        out[3 * copies] += horizontal_sum(_mm256_add_ps(c0, c1));
      }
      for (int64_t k = 0; k < copies; ++k) {
        const float* yk = ys[k] + e0;
        const bool measured = k >= first;
        __m256 n0 = zero, n1 = zero, i0 = zero, i1 = zero;
        if (invariance && measured) {
          for (int64_t e = 0; e < len; e += 16) {
            const __m256 v0 = _mm256_loadu_ps(yk + e);
            const __m256 d0 = _mm256_sub_ps(v0, _mm256_load_ps(centroid + e));
            n0 = _mm256_fmadd_ps(v0, v0, n0);
            i0 = _mm256_fmadd_ps(d0, d0, i0);
            if (e + 8 < len) {
              const __m256 v1 = _mm256_loadu_ps(yk + e + 8);
              const __m256 d1 = _mm256_sub_ps(v1, _mm256_load_ps(centroid + e + 8));
              n1 = _mm256_fmadd_ps(v1, v1, n1);
              i1 = _mm256_fmadd_ps(d1, d1, i1);
            }
          }
        } else {
          for (int64_t e = 0; e < len; e += 16) {
            const __m256 v0 = _mm256_loadu_ps(yk + e);
            n0 = _mm256_fmadd_ps(v0, v0, n0);
            if (e + 8 < len) {
              const __m256 v1 = _mm256_loadu_ps(yk + e + 8);
              n1 = _mm256_fmadd_ps(v1, v1, n1);
            }
          }
        }
        __m256 q[4] = {zero, zero, zero, zero};
        if (equivariance && measured && k > 0) {  // copy 0 is y_0 itself
          const ops::ActionRows::Source src = walks[k].source(r);
          const float* from = ys[0] + src.offset + j0 * src.step;
          const __m256i pattern =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes.data() + 8 * k));
          if (walks[k].order() == 1)
            row_distance<false>(from, src.step, yk, j0, j1, channels, pattern, q);
          else
            row_distance<true>(from, src.step, yk, j0, j1, channels, pattern, q);
        }
        out[k] += horizontal_sum(_mm256_add_ps(i0, i1));
        out[copies + k] += horizontal_sum(_mm256_add_ps(n0, n1));
        out[2 * copies + k] +=
            horizontal_sum(_mm256_add_ps(_mm256_add_ps(q[0], q[1]), _mm256_add_ps(q[2], q[3])));
      }
    }
  }
}

/// Whether sample_pass_avx2 takes this stage: x86-64 with AVX2 and FMA, float channels_last,
/// whole 8-channel groups (at most sums::kBlock channels), fields of order 1, 2, 4 or 8.
bool one_pass_applies(const torch::Tensor& y, const std::vector<ops::ActionRows>& walks) {
  static const bool cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  bool ok =
      cpu && y.scalar_type() == torch::kFloat && y.size(1) % 8 == 0 && y.size(1) <= sums::kBlock;
  for (const ops::ActionRows& walk : walks)
    ok = ok && walk.channels_last() && 8 % walk.order() == 0;
  return ok;
}
#endif

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
  // parts only when a chunk has fewer than kMinItems samples (a fixed count, not the thread
  // count, so that the numbers depend on nothing but the chunk). One-pass kernel: part p takes
  // the rows r = p (mod parts). Two-pass path: part p takes the invariance segments s = p
  // (mod parts) and the copies k = p (mod parts) for norms and equivariance, in that order, so the
  // equivariance pass finds the sample's copies in cache. Partial sums are added in a fixed order
  // afterwards.
  const int64_t parts = std::max<int64_t>(1, (kMinItems + n - 1) / n);
  // Small stages run on the calling thread: waking the pool costs more than their arithmetic.
  const int64_t grain =
      std::max<int64_t>(1, kMinParallelEntries / std::max<int64_t>(1, copies * d / parts));
#if EQNN_X86_DISPATCH
  if (one_pass_applies(y, walks)) {
    // Item (i, p) takes rows p, p + parts, ... of sample i; items' sums are added in order.
    const int64_t stride = 3 * copies + 1;
    std::vector<double> sums_of(static_cast<size_t>(n * parts * stride), 0.0);
    const float* base = y.data_ptr<float>();
    at::parallel_for(0, n * parts, grain, [&](int64_t begin, int64_t end) {
      std::vector<const float*> ys(copies);
      for (int64_t item = begin; item < end; ++item) {
        const int64_t i = item / parts;
        for (int64_t k = 0; k < copies; ++k)
          ys[k] = base + (k * n + i) * d;
        sample_pass_avx2(ys.data(), copies, first, walks.data(), y.size(2), y.size(3), y.size(1),
                         item % parts, parts, equivariance, invariance,
                         sums_of.data() + item * stride);
      }
    });
    for (int64_t item = 0; item < n * parts; ++item) {
      const int64_t i = item / parts;
      const double* t = sums_of.data() + item * stride;
      for (int64_t k = 0; k < copies; ++k) {
        out.norm2[k * n + i] += t[copies + k];
        if (equivariance) out.equivariance2[k * n + i] += t[2 * copies + k];
        if (invariance) out.invariance2[k * n + i] += t[k];
      }
      if (invariance) out.centroid2[i] += t[3 * copies];
    }
    return out;
  }
#endif
  const int64_t segments = invariance ? (d + kSegment - 1) / kSegment : 0;
  const int64_t width = used + 1;  // per segment: diff2 of each used copy, |c|^2; then each a2
  std::vector<double> partial(static_cast<size_t>(n * segments * 2 * width), 0.0);
  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "eqnn::probe::stage_sums", [&] {
    const scalar_t* base = y.data_ptr<scalar_t>();
    const auto copy = [&](int64_t k, int64_t i) { return base + (k * n + i) * d; };
    at::parallel_for(0, n * parts, grain, [&](int64_t begin, int64_t end) {
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
          } else {
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
