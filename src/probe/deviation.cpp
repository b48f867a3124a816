#include "eqnn/probe/deviation.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

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

/// Elements summed in the input's precision before a partial sum is added to the float64 total:
/// float32 rounding stays at the level of a 256-term sum while the loops run at full SIMD width.
constexpr int64_t kBlock = 256;

/// sum (x-y)^2, sum x^2, sum y^2 in float64 (blocks of kBlock summed in scalar_t). The simd
/// reduction lets the compiler keep several partial sums in vector registers (it may not
/// reassociate a plain loop).
template <typename scalar_t>
void sample_sums(const scalar_t* x, const scalar_t* y, int64_t d, double* diff2, double* a2,
                 double* b2) {
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

/// For one sample (entries [offset, offset + d) of every copy): with c = mean_k copies[k],
/// diff2[k] = sum (copies[k] - c)^2, a2[k] = sum copies[k]^2 and *c2 = sum c^2, block by block
/// (the centroid of a block, then each copy against it; every loop runs over contiguous memory).
template <typename scalar_t>
void centroid_sums(const std::vector<const scalar_t*>& copies, int64_t offset, int64_t d,
                   double* diff2, double* a2, double* c2) {
  const int64_t k_count = static_cast<int64_t>(copies.size());
  const scalar_t inv_k = scalar_t(1) / static_cast<scalar_t>(k_count);
  std::fill(diff2, diff2 + k_count, 0.0);
  std::fill(a2, a2 + k_count, 0.0);
  double sc = 0;
  scalar_t centroid[kBlock];
  for (int64_t j0 = 0; j0 < d; j0 += kBlock) {
    const int64_t len = std::min(kBlock, d - j0);
    std::fill(centroid, centroid + len, scalar_t(0));
    for (int64_t k = 0; k < k_count; ++k) {
      const scalar_t* v = copies[k] + offset + j0;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j)
        centroid[j] += v[j];
    }
    scalar_t bc = 0;
#pragma omp simd reduction(+ : bc)
    for (int64_t j = 0; j < len; ++j) {
      centroid[j] *= inv_k;
      bc += centroid[j] * centroid[j];
    }
    sc += static_cast<double>(bc);
    for (int64_t k = 0; k < k_count; ++k) {
      const scalar_t* v = copies[k] + offset + j0;
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
  *c2 = sc;
}

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
        sample_sums(pa + i * d, pb + i * d, d, diff2 + i, a2 + i, b2 + i);
      }
    });
  });
  return out;
}

/// Cosine or euclidean deviation from per-sample sums. Cosine: 1 - <a,b>/(|a||b|) =
/// (|a-b|^2 - (|a|-|b|)^2) / (2|a||b|), which does not cancel when a ~ b. On CPU one loop (these
/// are called per stage, copy and chunk on (n) tensors, where a chain of ATen ops costs more in
/// dispatch than in arithmetic).
torch::Tensor from_sums(const PairStats& st, Deviation kind) {
  TORCH_CHECK(kind != Deviation::KL, "eqnn::probe: KL is not a function of the pair sums");
  if (!st.diff2.is_cpu()) {
    if (kind == Deviation::Euclidean) return st.diff2.sqrt();
    const torch::Tensor na = st.a2.sqrt(), nb = st.b2.sqrt();
    return (st.diff2 - (na - nb).square()) / (2.0 * (na * nb).clamp_min(1e-8));
  }
  const torch::Tensor d2 = st.diff2.contiguous(), a2 = st.a2.contiguous(), b2 = st.b2.contiguous();
  const int64_t n = d2.numel();
  torch::Tensor out = torch::empty({n}, torch::kDouble);
  const double *pd = d2.data_ptr<double>(), *pa = a2.data_ptr<double>(),
               *pb = b2.data_ptr<double>();
  double* po = out.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    if (kind == Deviation::Euclidean) {
      po[i] = std::sqrt(pd[i]);
    } else {
      const double na = std::sqrt(pa[i]), nb = std::sqrt(pb[i]);
      po[i] = (pd[i] - (na - nb) * (na - nb)) / (2.0 * std::max(na * nb, 1e-8));
    }
  }
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
    std::vector<const scalar_t*> data;
    for (const torch::Tensor& y : ys)
      data.push_back(y.data_ptr<scalar_t>());
    at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
      std::vector<double> sd(k_count), sa(k_count);
      for (int64_t i = begin; i < end; ++i) {
        double sc = 0;
        centroid_sums(data, i * d, d, sd.data(), sa.data(), &sc);
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

/// The pair sums (|f_i - f_j|^2, |f_i|^2, |f_j|^2) of every pair i < j of rows, in the order
/// (0,1), (0,2), ..., (n-2,n-1). On CPU the fused per-pair pass; elsewhere through ATen.
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
  PairStats out{torch::empty({pairs}, torch::kDouble), torch::empty({pairs}, torch::kDouble),
                torch::empty({pairs}, torch::kDouble)};
  const torch::Tensor f = f_in.reshape({n, -1}).contiguous();
  const int64_t d = f.size(1);
  double* diff2 = out.diff2.data_ptr<double>();
  double* a2 = out.a2.data_ptr<double>();
  double* b2 = out.b2.data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES(f.scalar_type(), "eqnn::probe::mean_pairwise_deviation", [&] {
    const scalar_t* p = f.data_ptr<scalar_t>();
    at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        int64_t m = i * (2 * n - i - 1) / 2;  // index of pair (i, i + 1)
        for (int64_t j = i + 1; j < n; ++j, ++m)
          sample_sums(p + i * d, p + j * d, d, diff2 + m, a2 + m, b2 + m);
      }
    });
  });
  return out;
}

}  // namespace

std::vector<std::pair<double, int64_t>> mean_pairwise_deviations(
    const torch::Tensor& f_in, const std::vector<Deviation>& kinds) {
  const int64_t n = f_in.size(0);
  const int64_t pairs = n * (n - 1);
  std::vector<std::pair<double, int64_t>> out;
  std::optional<PairStats> sums;  // shared by cosine and euclidean
  for (const Deviation kind : kinds) {
    if (n < 2) {
      out.push_back({0.0, 0});
      continue;
    }
    if (kind == Deviation::KL) {  // not symmetric: every ordered pair, row i against row i + k
      double sum = 0;
      for (int64_t k = 1; k < n; ++k)
        sum += deviation(f_in, torch::roll(f_in, {-k}, {0}), kind).sum().item<double>();
      out.push_back({sum / static_cast<double>(pairs), pairs});
      continue;
    }
    if (!sums) sums = all_pair_sums(f_in);
    // cosine and euclidean are symmetric: each unordered pair counts twice
    const double sum = 2.0 * from_sums(*sums, kind).sum().item<double>();
    out.push_back({sum / static_cast<double>(pairs), pairs});
  }
  return out;
}

std::pair<double, int64_t> mean_pairwise_deviation(const torch::Tensor& f, Deviation kind) {
  return mean_pairwise_deviations(f, {kind})[0];
}

}  // namespace probe
}  // namespace eqnn
