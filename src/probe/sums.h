// Per-sample sums behind the cosine and euclidean deviations (internal). Every sum is a float64
// total of partial sums over blocks of at most kBlock entries taken in the input's precision: the
// loops run at full SIMD width while float32 rounding stays at the level of a 256-term sum
// (docs/metrics.md, "Precision"). The `omp simd` reductions let the compiler keep several partial
// sums in vector registers (it may not reassociate a plain loop).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <c10/util/Exception.h>

#include "eqnn/probe/deviation.h"

// Hot loops of the probe are also compiled for x86-64-v3 (AVX2, FMA) and picked at load time
// (GCC function multiversioning); elsewhere they stay at the baseline ISA.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define EQNN_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#define EQNN_X86_DISPATCH 1
#else
#define EQNN_SIMD_CLONES
#define EQNN_X86_DISPATCH 0
#endif

#if defined(__GNUC__)
#define EQNN_SUMS_INLINE __attribute__((always_inline)) inline
#else
#define EQNN_SUMS_INLINE inline
#endif

namespace eqnn {
namespace probe {
namespace sums {

constexpr int64_t kBlock = 256;

// The loops below are force-inlined so that each multiversioned caller compiles them for its ISA.

/// sum over j in [0, d) of term(j): partial sums over blocks of kBlock in scalar_t, added to a
/// float64 total.
template <typename scalar_t, typename Term>
EQNN_SUMS_INLINE double blocked_sum(int64_t d, const Term& term) {
  double total = 0;
  for (int64_t j0 = 0; j0 < d; j0 += kBlock) {
    const int64_t j1 = std::min(d, j0 + kBlock);
    scalar_t block = 0;
#pragma omp simd reduction(+ : block)
    for (int64_t j = j0; j < j1; ++j)
      block += term(j);
    total += static_cast<double>(block);
  }
  return total;
}

/// sum (x - y)^2 over [0, d).
template <typename scalar_t>
EQNN_SUMS_INLINE double squared_distance(const scalar_t* x, const scalar_t* y, int64_t d) {
  return blocked_sum<scalar_t>(d, [&](int64_t j) { return (x[j] - y[j]) * (x[j] - y[j]); });
}

/// sum (x - y)^2, sum x^2 and sum y^2 over [0, d), in one pass.
template <typename scalar_t>
EQNN_SUMS_INLINE void pair_sums(const scalar_t* x, const scalar_t* y, int64_t d, double* diff2,
                                double* a2, double* b2) {
  double sd = 0, sa = 0, sb = 0;
  for (int64_t j0 = 0; j0 < d; j0 += kBlock) {
    const int64_t j1 = std::min(d, j0 + kBlock);
    scalar_t bd = 0, ba = 0, bb = 0;
#pragma omp simd reduction(+ : bd, ba, bb)
    for (int64_t j = j0; j < j1; ++j) {
      const scalar_t u = x[j], v = y[j];
      bd += (u - v) * (u - v);
      ba += u * u;
      bb += v * v;
    }
    sd += static_cast<double>(bd);
    sa += static_cast<double>(ba);
    sb += static_cast<double>(bb);
  }
  *diff2 = sd;
  *a2 = sa;
  *b2 = sb;
}

/// sum x^2 over [0, d).
template <typename scalar_t>
EQNN_SUMS_INLINE double squared_norm(const scalar_t* x, int64_t d) {
  return blocked_sum<scalar_t>(d, [&](int64_t j) { return x[j] * x[j]; });
}

/// For entries [begin, end) of K copies (copies[k] points at one sample's features), with
/// c = mean_k copies[k]: adds sum (copies[k] - c)^2 to diff2[k], sum copies[k]^2 to a2[k] and
/// sum c^2 to *c2, block by block (the centroid of a block, then each copy against it; every loop
/// runs over contiguous memory).
template <typename scalar_t>
EQNN_SUMS_INLINE void centroid_sums(const scalar_t* const* copies, int64_t k_count, int64_t begin,
                                    int64_t end, double* diff2, double* a2, double* c2) {
  const scalar_t inv_k = scalar_t(1) / static_cast<scalar_t>(k_count);
  scalar_t centroid[kBlock];
  for (int64_t j0 = begin; j0 < end; j0 += kBlock) {
    const int64_t len = std::min(kBlock, end - j0);
    scalar_t* __restrict__ c = centroid;
    {
      const scalar_t* __restrict__ v = copies[0] + j0;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j)
        c[j] = v[j];
    }
    int64_t k = 1;
    for (; k + 1 < k_count; k += 2) {  // two copies per pass (fewer passes over c)
      const scalar_t* __restrict__ v = copies[k] + j0;
      const scalar_t* __restrict__ w = copies[k + 1] + j0;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j)
        c[j] += v[j] + w[j];
    }
    if (k < k_count) {
      const scalar_t* __restrict__ v = copies[k] + j0;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j)
        c[j] += v[j];
    }
    scalar_t bc = 0;
#pragma omp simd reduction(+ : bc)
    for (int64_t j = 0; j < len; ++j) {
      c[j] *= inv_k;
      bc += c[j] * c[j];
    }
    *c2 += static_cast<double>(bc);
    for (int64_t k = 0; k < k_count; ++k) {
      const scalar_t* v = copies[k] + j0;
      scalar_t bd = 0, ba = 0;
#pragma omp simd reduction(+ : bd, ba)
      for (int64_t j = 0; j < len; ++j) {
        bd += (v[j] - centroid[j]) * (v[j] - centroid[j]);
        ba += v[j] * v[j];
      }
      diff2[k] += static_cast<double>(bd);
      a2[k] += static_cast<double>(ba);
    }
  }
}

/// Cosine or euclidean deviation of a and b from |a - b|^2, |a|^2 and |b|^2. Cosine:
/// 1 - <a,b>/max(|a||b|, 1e-8) (metrics.md). Where |a||b| >= 1e-8 this is
/// (|a-b|^2 - (|a|-|b|)^2) / (2|a||b|), which does not cancel when a ~ b; below the guard
/// <a,b> = (|a|^2 + |b|^2 - |a-b|^2) / 2, clamped to +-|a||b| (a zero vector has deviation 1
/// from anything).
inline double from_sums(Deviation kind, double diff2, double a2, double b2) {
  TORCH_INTERNAL_ASSERT(kind != Deviation::KL,
                        "eqnn::probe: KL is not a function of the pair sums");
  if (kind == Deviation::Euclidean) return std::sqrt(diff2);
  const double na = std::sqrt(a2), nb = std::sqrt(b2);
  constexpr double kGuard = 1e-8;
  if (a2 == 0 || b2 == 0) return 1.0;  // <a,b> = 0 exactly (the sums would only give rounding)
  if (na * nb >= kGuard) return (diff2 - (na - nb) * (na - nb)) / (2.0 * na * nb);
  // |<a,b>| <= |a||b|: clamping keeps the rounding of the sums from being amplified by 1/guard
  const double dot = std::clamp(0.5 * (a2 + b2 - diff2), -na * nb, na * nb);
  return 1.0 - dot / kGuard;
}

}  // namespace sums
}  // namespace probe
}  // namespace eqnn
