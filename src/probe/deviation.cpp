#include "eqnn/probe/deviation.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include "sums.h"

namespace eqnn {
namespace probe {

const char* to_string(Deviation deviation) {
  switch (deviation) {
    case Deviation::Cosine:
      return "cosine";
    case Deviation::Euclidean:
      return "euclidean";
    case Deviation::KL:
      return "kl";
  }
  return "?";
}

Deviation deviation_from_name(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (key == "cosine") return Deviation::Cosine;
  if (key == "euclidean") return Deviation::Euclidean;
  if (key == "kl") return Deviation::KL;
  TORCH_CHECK(false, "eqnn::probe: unknown deviation '", name,
              "'; expected cosine, euclidean or kl");
}

namespace {

/// Per-sample |a - b|^2, |a|^2 and |b|^2 in float64, (N) each. On CPU one fused pass over the two
/// tensors in memory order (both NCHW or both channels_last: any common dense layout works, the
/// sums do not depend on the order of the features); elsewhere through ATen.
struct PairStats {
  torch::Tensor diff2, a2, b2;
};

bool same_dense_layout(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.strides() != b.strides()) return false;
  if (a.is_contiguous()) return true;
  return a.dim() == 4 && a.is_contiguous(at::MemoryFormat::ChannelsLast);
}

PairStats pair_stats(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  const int64_t n = a_in.size(0);
  const bool fused = a_in.is_cpu() && a_in.scalar_type() == b_in.scalar_type() &&
                     (a_in.scalar_type() == torch::kFloat || a_in.scalar_type() == torch::kDouble);
  if (!fused) {
    const torch::Tensor a = a_in.reshape({n, -1}).to(torch::kDouble);
    const torch::Tensor b = b_in.reshape({n, -1}).to(torch::kDouble);
    return {(a - b).square().sum(1), a.square().sum(1), b.square().sum(1)};
  }
  torch::Tensor a = a_in, b = b_in;
  if (!same_dense_layout(a, b)) {
    a = a.contiguous();
    b = b.contiguous();
  }
  const int64_t d = n > 0 ? a.numel() / n : 0;
  PairStats out{torch::empty({n}, torch::kDouble), torch::empty({n}, torch::kDouble),
                torch::empty({n}, torch::kDouble)};
  double* diff2 = out.diff2.data_ptr<double>();
  double* a2 = out.a2.data_ptr<double>();
  double* b2 = out.b2.data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "eqnn::probe::deviation", [&] {
    const scalar_t* pa = a.data_ptr<scalar_t>();
    const scalar_t* pb = b.data_ptr<scalar_t>();
    at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        sums::pair_sums(pa + i * d, pb + i * d, d, diff2 + i, a2 + i, b2 + i);
      }
    });
  });
  return out;
}

/// Cosine or euclidean deviation from per-sample sums. On CPU one loop (these are called per stage,
/// copy and chunk on (n) tensors, where a chain of ATen ops costs more in dispatch than in
/// arithmetic).
torch::Tensor from_sums(const PairStats& st, Deviation kind) {
  TORCH_CHECK(kind != Deviation::KL, "eqnn::probe: KL is not a function of the pair sums");
  if (!st.diff2.is_cpu()) {  // the same formula as sums::from_sums, in ATen
    if (kind == Deviation::Euclidean) return st.diff2.sqrt();
    const torch::Tensor na = st.a2.sqrt(), nb = st.b2.sqrt(), nanb = na * nb;
    const torch::Tensor dot = torch::max(torch::min(0.5 * (st.a2 + st.b2 - st.diff2), nanb), -nanb);
    return torch::where(nanb >= 1e-8, (st.diff2 - (na - nb).square()) / (2.0 * nanb),
                        torch::where(nanb == 0, torch::ones_like(nanb), 1.0 - dot / 1e-8));
  }
  const torch::Tensor d2 = st.diff2.contiguous(), a2 = st.a2.contiguous(), b2 = st.b2.contiguous();
  const int64_t n = d2.numel();
  torch::Tensor out = torch::empty({n}, torch::kDouble);
  const double *pd = d2.data_ptr<double>(), *pa = a2.data_ptr<double>(),
               *pb = b2.data_ptr<double>();
  double* po = out.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i)
    po[i] = sums::from_sums(kind, pd[i], pa[i], pb[i]);
  return out;
}

}  // namespace

std::vector<torch::Tensor> deviations(const torch::Tensor& a_in, const torch::Tensor& b_in,
                                      const std::vector<Deviation>& kinds) {
  TORCH_CHECK(a_in.sizes() == b_in.sizes(), "eqnn::probe::deviation: shapes differ: ", a_in.sizes(),
              " vs ", b_in.sizes());
  const int64_t n = a_in.size(0);
  std::optional<PairStats> st;  // shared by cosine and euclidean: one pass over the data
  std::vector<torch::Tensor> out;
  for (const Deviation kind : kinds) {
    if (kind != Deviation::KL && !st) st = pair_stats(a_in, b_in);
    switch (kind) {
      case Deviation::Cosine:
      case Deviation::Euclidean:
        out.push_back(from_sums(*st, kind));
        break;
      case Deviation::KL: {
        const torch::Tensor a = a_in.reshape({n, -1}).to(torch::kDouble);
        const torch::Tensor b = b_in.reshape({n, -1}).to(torch::kDouble);
        // 0 log 0 = 0: terms with a_k = 0 contribute nothing
        const torch::Tensor log_a = torch::where(a > 0, a.log(), torch::zeros_like(a));
        out.push_back((a * (log_a - b.clamp_min(1e-12).log())).sum(1));
        break;
      }
    }
  }
  return out;
}

torch::Tensor deviation(const torch::Tensor& a, const torch::Tensor& b, Deviation kind) {
  return deviations(a, b, {kind})[0];
}

std::vector<std::vector<torch::Tensor>> centroid_deviations(const std::vector<torch::Tensor>& ys,
                                                            const std::vector<Deviation>& kinds) {
  TORCH_CHECK(!ys.empty(), "eqnn::probe::centroid_deviations: no tensors");
  const torch::Tensor& y0 = ys.front();
  const int64_t n = y0.size(0), k_count = static_cast<int64_t>(ys.size());
  bool fused =
      y0.is_cpu() && (y0.scalar_type() == torch::kFloat || y0.scalar_type() == torch::kDouble);
  for (const Deviation kind : kinds)
    fused = fused && kind != Deviation::KL;
  for (const torch::Tensor& y : ys)
    fused = fused && y.sizes() == y0.sizes() && y.scalar_type() == y0.scalar_type() &&
            same_dense_layout(y, y0);
  std::vector<std::vector<torch::Tensor>> out;
  if (!fused) {  // through ATen: materialise the centroid in float64
    torch::Tensor centroid = torch::zeros_like(y0, y0.options().dtype(torch::kDouble));
    for (const torch::Tensor& y : ys)
      centroid.add_(y);
    centroid.div_(static_cast<double>(k_count));
    for (const torch::Tensor& y : ys)
      out.push_back(deviations(y.to(torch::kDouble), centroid, kinds));
    return out;
  }
  // One pass over the K copies, block by block (the centroid of a block, then each copy against
  // it).
  const int64_t d = n > 0 ? y0.numel() / n : 0;
  std::vector<PairStats> stats(k_count);
  for (auto& st : stats) {
    st.diff2 = torch::zeros({n}, torch::kDouble);
    st.a2 = torch::zeros({n}, torch::kDouble);
    st.b2 = torch::zeros({n}, torch::kDouble);
  }
  AT_DISPATCH_FLOATING_TYPES(y0.scalar_type(), "eqnn::probe::centroid_deviations", [&] {
    at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
      std::vector<const scalar_t*> data(k_count);
      std::vector<double> sd(k_count), sa(k_count);
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t k = 0; k < k_count; ++k)
          data[k] = ys[k].data_ptr<scalar_t>() + i * d;
        std::fill(sd.begin(), sd.end(), 0.0);
        std::fill(sa.begin(), sa.end(), 0.0);
        double sc = 0;
        sums::centroid_sums(data.data(), k_count, 0, d, sd.data(), sa.data(), &sc);
        for (int64_t k = 0; k < k_count; ++k) {
          stats[k].diff2.data_ptr<double>()[i] = sd[k];
          stats[k].a2.data_ptr<double>()[i] = sa[k];
          stats[k].b2.data_ptr<double>()[i] = sc;
        }
      }
    });
  });
  for (const PairStats& st : stats) {
    out.emplace_back();
    for (const Deviation kind : kinds)
      out.back().push_back(from_sums(st, kind));
  }
  return out;
}

namespace {

/// sum (a - b)^2 over [0, len) as four independent sums over quarters (one FMA chain would wait on
/// the FMA latency at every step).
template <typename scalar_t>
EQNN_SUMS_INLINE scalar_t block_distance(const scalar_t* a, const scalar_t* b, int64_t len) {
  const int64_t q = len / 4;
  scalar_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int64_t t = 0; t < q; ++t) {
    const scalar_t d0 = a[t] - b[t], d1 = a[q + t] - b[q + t], d2 = a[2 * q + t] - b[2 * q + t],
                   d3 = a[3 * q + t] - b[3 * q + t];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (int64_t t = 4 * q; t < len; ++t)
    s0 += (a[t] - b[t]) * (a[t] - b[t]);
  return (s0 + s1) + (s2 + s3);
}

/// Index of pair (i, j), i < j, among the n(n-1)/2 pairs in the order (0,1), (0,2), ...
inline int64_t pair_index(int64_t n, int64_t i, int64_t j) {
  return i * (2 * n - i - 1) / 2 + j - i - 1;
}

/// Adds sum over entries [begin, end) of (f_i - f_j)^2 to total[pair_index(i, j)] for every pair
/// i < j of the n rows of f (row length d), block by block. Rows are taken two at a time against
/// four others (eight sums from six loads per step).
template <typename scalar_t>
EQNN_SIMD_CLONES void pair_distances(const scalar_t* f, int64_t n, int64_t d, int64_t begin,
                                     int64_t end, double* total) {
  for (int64_t j0 = begin; j0 < end; j0 += sums::kBlock) {
    const int64_t len = std::min(sums::kBlock, end - j0);
    for (int64_t i = 0; i + 1 < n; i += 2) {
      const scalar_t* a = f + i * d + j0;
      const scalar_t* a1 = a + d;
      total[pair_index(n, i, i + 1)] += static_cast<double>(block_distance(a, a1, len));
      int64_t j = i + 2;
      for (; j + 4 <= n; j += 4) {
        const scalar_t* b = f + j * d + j0;
        scalar_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7)
        for (int64_t t = 0; t < len; ++t) {
          const scalar_t u = a[t], v = a1[t], b0 = b[t], b1 = b[d + t], b2 = b[2 * d + t],
                         b3 = b[3 * d + t];
          s0 += (u - b0) * (u - b0);
          s1 += (u - b1) * (u - b1);
          s2 += (u - b2) * (u - b2);
          s3 += (u - b3) * (u - b3);
          s4 += (v - b0) * (v - b0);
          s5 += (v - b1) * (v - b1);
          s6 += (v - b2) * (v - b2);
          s7 += (v - b3) * (v - b3);
        }
        const scalar_t sums_of[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
        for (int64_t r = 0; r < 4; ++r) {
          total[pair_index(n, i, j + r)] += static_cast<double>(sums_of[r]);
          total[pair_index(n, i + 1, j + r)] += static_cast<double>(sums_of[4 + r]);
        }
      }
      for (; j < n; ++j) {
        const scalar_t* b = f + j * d + j0;
        total[pair_index(n, i, j)] += static_cast<double>(block_distance(a, b, len));
        total[pair_index(n, i + 1, j)] += static_cast<double>(block_distance(a1, b, len));
      }
    }
  }
}

/// The pair sums (|f_i - f_j|^2, |f_i|^2, |f_j|^2) of every pair i < j of rows, in the order
/// (0,1), (0,2), ..., (n-2,n-1). On CPU one blocked pass; elsewhere through ATen.
PairStats all_pair_sums(const torch::Tensor& f_in) {
  const int64_t n = f_in.size(0), pairs = n * (n - 1) / 2;
  const bool fused = f_in.is_cpu() &&
                     (f_in.scalar_type() == torch::kFloat || f_in.scalar_type() == torch::kDouble);
  if (!fused) {
    const torch::Tensor f = f_in.reshape({n, -1}).to(torch::kDouble);
    const torch::Tensor ij = torch::triu_indices(n, n, 1, f.options().dtype(torch::kLong));
    const torch::Tensor a = f.index_select(0, ij[0]), b = f.index_select(0, ij[1]);
    return {(a - b).square().sum(1).cpu(), a.square().sum(1).cpu(), b.square().sum(1).cpu()};
  }
  PairStats out{torch::zeros({pairs}, torch::kDouble), torch::empty({pairs}, torch::kDouble),
                torch::empty({pairs}, torch::kDouble)};
  // Each sample's features as one contiguous vector: any sample-major dense layout will do (the
  // sums do not depend on the order of the features, only on both rows using the same one).
  const bool sample_major = f_in.is_contiguous() ||
                            (f_in.dim() == 4 && f_in.is_contiguous(at::MemoryFormat::ChannelsLast));
  const torch::Tensor f = sample_major ? f_in : f_in.contiguous();
  const int64_t d = n > 0 ? f.numel() / n : 0;
  // Position-major: every pair over one block of entries while the n rows' blocks sit in L1, then
  // the next block (a pair-major loop would stream both rows from memory for every pair). Segments
  // of blocks run in parallel; their per-pair totals are added in segment order (deterministic).
  constexpr int64_t kBlocksPerSegment = 4;
  const int64_t segment = sums::kBlock * kBlocksPerSegment;
  const int64_t segments = std::max<int64_t>(1, (d + segment - 1) / segment);
  std::vector<double> partial(static_cast<size_t>(segments * pairs), 0.0);
  std::vector<double> norms(n);
  AT_DISPATCH_FLOATING_TYPES(f.scalar_type(), "eqnn::probe::mean_pairwise_deviation", [&] {
    const scalar_t* p = f.data_ptr<scalar_t>();
    for (int64_t i = 0; i < n; ++i)
      norms[i] = sums::squared_norm(p + i * d, d);
    at::parallel_for(0, segments, 1, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s) {
        pair_distances(p, n, d, s * segment, std::min(d, (s + 1) * segment),
                       partial.data() + s * pairs);
      }
    });
  });
  double* diff2 = out.diff2.data_ptr<double>();
  double* a2 = out.a2.data_ptr<double>();
  double* b2 = out.b2.data_ptr<double>();
  for (int64_t s = 0; s < segments; ++s)
    for (int64_t m = 0; m < pairs; ++m)
      diff2[m] += partial[s * pairs + m];
  for (int64_t i = 0, m = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j, ++m) {
      a2[m] = norms[i];
      b2[m] = norms[j];
    }
  return out;
}

}  // namespace

namespace {

/// Mean and standard error of a U-statistic from its per-row sums over the other rows (h
/// symmetric or not: row i holds the pairs (i, j), j != i): the first-order (Hoeffding)
/// approximation SE = 2 sd(r_i) / sqrt(n), r_i the row means.
PairwiseMean u_statistic(const std::vector<double>& row_sums, int64_t n) {
  PairwiseMean out;
  out.pairs = n * (n - 1);
  if (n < 2) return out;
  double total = 0;
  for (double r : row_sums)
    total += r;
  out.mean = total / static_cast<double>(out.pairs);
  if (n > 2) {
    double var = 0;
    for (double r : row_sums) {
      const double dr = r / static_cast<double>(n - 1) - out.mean;
      var += dr * dr;
    }
    var /= static_cast<double>(n - 1);
    out.standard_error = 2.0 * std::sqrt(var / static_cast<double>(n));
  }
  return out;
}

}  // namespace

std::vector<PairwiseMean> mean_pairwise_deviations(const torch::Tensor& f_in,
                                                   const std::vector<Deviation>& kinds) {
  const int64_t n = f_in.size(0);
  std::vector<PairwiseMean> out;
  std::optional<PairStats> sums;  // shared by cosine and euclidean
  for (const Deviation kind : kinds) {
    std::vector<double> rows(static_cast<size_t>(n), 0.0);
    if (n < 2) {
      out.push_back(u_statistic(rows, n));
      continue;
    }
    if (kind == Deviation::KL) {  // not symmetric: every ordered pair
      // KL(a || b) as deviation() defines it, sum_c a_c (log a_c - log max(b_c, 1e-12)) with
      // 0 log 0 = 0, for every ordered pair of rows from the two logarithms of each row, taken
      // once: n (n - 1) pairs of a few classes, which per-pair ATen calls would spend in dispatch
      const torch::Tensor p = f_in.reshape({n, -1}).to(torch::kCPU, torch::kDouble).contiguous();
      const int64_t c = p.size(1);
      const double* a = p.data_ptr<double>();
      std::vector<double> log_a(static_cast<size_t>(n * c)), log_b(static_cast<size_t>(n * c));
      for (size_t e = 0; e < log_a.size(); ++e) {
        log_a[e] = a[e] > 0 ? std::log(a[e]) : 0.0;
        log_b[e] = std::log(std::max(a[e], 1e-12));
      }
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) {
          if (j == i) continue;
          double kl = 0;
          for (int64_t m = 0; m < c; ++m)
            kl += a[i * c + m] *
                  (log_a[static_cast<size_t>(i * c + m)] - log_b[static_cast<size_t>(j * c + m)]);
          rows[i] += kl;
        }
      out.push_back(u_statistic(rows, n));
      continue;
    }
    if (!sums) sums = all_pair_sums(f_in);
    // cosine and euclidean are symmetric: each unordered pair (i < j) counts for both rows
    const torch::Tensor values = from_sums(*sums, kind).contiguous();
    const double* v = values.data_ptr<double>();
    for (int64_t i = 0, m = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j, ++m) {
        rows[i] += v[m];
        rows[j] += v[m];
      }
    out.push_back(u_statistic(rows, n));
  }
  return out;
}

PairwiseMean mean_pairwise_deviation(const torch::Tensor& f, Deviation kind) {
  return mean_pairwise_deviations(f, {kind})[0];
}

}  // namespace probe
}  // namespace eqnn
