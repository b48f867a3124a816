#include "lie_norms.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <vector>

namespace eqnn {
namespace probe {
namespace detail {
namespace {

/// Central differences (y[j + 1] - y[j - 1]) / 2 along `dim`, zeros outside.
torch::Tensor central_gradient(const torch::Tensor& y, int64_t dim) {
  const int64_t n = y.size(dim);
  torch::Tensor g = torch::zeros_like(y);
  if (n < 2) return g;
  g.narrow(dim, 1, n - 1).add_(y.narrow(dim, 0, n - 1), -0.5);
  g.narrow(dim, 0, n - 1).add_(y.narrow(dim, 1, n - 1), 0.5);
  return g;
}

/// A plane (H, W) of a and of b with their common strides.
template <typename T>
struct PlanePair {
  const T* a;
  const T* b;
  int64_t rows, cols, row_stride, col_stride;
  T sum(int64_t r, int64_t c) const {
    const int64_t o = r * row_stride + c * col_stride;
    return a[o] + b[o];
  }
  T difference(int64_t r, int64_t c) const {
    const int64_t o = r * row_stride + c * col_stride;
    return a[o] - b[o];
  }
};

/// L at one entry from the difference a - b there and the sums s = a + b of its four neighbours
/// (0 outside): L = (a - b) / 2h - D s / 2 with D s / 2 = (cc (s[r+1] - s[r-1]) - rr (s[c+1] -
/// s[c-1])) / 4, cc and rr the entry's column and row about the centre.
template <typename T>
inline T lie_entry(T difference, T below, T above, T right, T left, T cc, T rr, T inv_2h) {
  return difference * inv_2h - T(0.25) * (cc * (below - above) - rr * (right - left));
}

/// sum over the plane of L^2, L = (a - b) / 2h - D (a + b) / 2 (lie_norms.h), computed in T and
/// summed in double. Interior columns are branch-free; rows and columns at the border see zeros.
template <typename T>
double plane_sum_of_squares(const PlanePair<T>& p, T inv_2h) {
  const T row_c = T(p.rows - 1) / 2, col_c = T(p.cols - 1) / 2;
  double total = 0;
  for (int64_t r = 0; r < p.rows; ++r) {
    const T rr = T(r) - row_c;
    const bool up = r > 0, down = r + 1 < p.rows;
    const auto value = [&](int64_t c, T left, T right) {
      const T below = down ? p.sum(r + 1, c) : T(0), above = up ? p.sum(r - 1, c) : T(0);
      const T l =
          lie_entry(p.difference(r, c), below, above, right, left, T(c) - col_c, rr, inv_2h);
      return l * l;
    };
    T row_total = 0;
    if (p.cols == 1) {
      row_total += value(0, T(0), T(0));
    } else {
      row_total += value(0, T(0), p.sum(r, 1));
      if (up && down && p.col_stride == 1) {
        // dense interior of an interior row: the same expression, vectorised
        const T *a0 = p.a + r * p.row_stride, *b0 = p.b + r * p.row_stride;
        const T *au = a0 - p.row_stride, *bu = b0 - p.row_stride;
        const T *ad = a0 + p.row_stride, *bd = b0 + p.row_stride;
        T interior = 0;
#pragma omp simd reduction(+ : interior)
        for (int64_t c = 1; c < p.cols - 1; ++c) {
          const T l = lie_entry(a0[c] - b0[c], ad[c] + bd[c], au[c] + bu[c], a0[c + 1] + b0[c + 1],
                                a0[c - 1] + b0[c - 1], T(c) - col_c, rr, inv_2h);
          interior += l * l;
        }
        row_total += interior;
      } else {
        for (int64_t c = 1; c + 1 < p.cols; ++c)
          row_total += value(c, p.sum(r, c - 1), p.sum(r, c + 1));
      }
      row_total += value(p.cols - 1, p.sum(r, p.cols - 2), T(0));
    }
    total += static_cast<double>(row_total);
  }
  return total;
}

/// sum over row r of sample n of L^2 for channels_last features (channels dense): the same
/// expression as plane_sum_of_squares, vectorised over channels; missing neighbours read `zeros`.
template <typename T>
double channels_last_row_sum(const T* a, const T* b, const at::Tensor& like, int64_t n, int64_t r,
                             T inv_2h, const T* zeros) {
  const int64_t channels = like.size(1), rows = like.size(2), cols = like.size(3);
  const int64_t row_stride = like.stride(2), col_stride = like.stride(3);
  const T rr = T(r) - T(rows - 1) / 2, col_c = T(cols - 1) / 2;
  double total = 0;
  for (int64_t c = 0; c < cols; ++c) {
    const int64_t o = n * like.stride(0) + r * row_stride + c * col_stride;
    const T *a0 = a + o, *b0 = b + o;
    const T* au = r > 0 ? a0 - row_stride : zeros;
    const T* bu = r > 0 ? b0 - row_stride : zeros;
    const T* ad = r + 1 < rows ? a0 + row_stride : zeros;
    const T* bd = r + 1 < rows ? b0 + row_stride : zeros;
    const T* al = c > 0 ? a0 - col_stride : zeros;
    const T* bl = c > 0 ? b0 - col_stride : zeros;
    const T* ar = c + 1 < cols ? a0 + col_stride : zeros;
    const T* br = c + 1 < cols ? b0 + col_stride : zeros;
    const T cc = T(c) - col_c;
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t ch = 0; ch < channels; ++ch) {
      const T l = lie_entry(a0[ch] - b0[ch], ad[ch] + bd[ch], au[ch] + bu[ch], ar[ch] + br[ch],
                            al[ch] + bl[ch], cc, rr, inv_2h);
      sum += l * l;
    }
    total += static_cast<double>(sum);
  }
  return total;
}

template <typename T>
void fill_norms(const torch::Tensor& a, const torch::Tensor& b, double h, double* out) {
  const int64_t batch = a.size(0), channels = a.size(1);
  const T* pa = a.data_ptr<T>();
  const T* pb = b.data_ptr<T>();
  const T inv_2h = T(1.0 / (2.0 * h));
  if (a.stride(1) == 1 && channels > 1) {  // channels_last: walk rows, channels innermost
    const int64_t rows = a.size(2);
    const std::vector<T> zeros(static_cast<size_t>(channels), T(0));
    std::vector<double> per_row(static_cast<size_t>(batch * rows), 0.0);
    at::parallel_for(0, batch * rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k)
        per_row[static_cast<size_t>(k)] =
            channels_last_row_sum(pa, pb, a, k / rows, k % rows, inv_2h, zeros.data());
    });
    for (int64_t n = 0; n < batch; ++n) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r)
        s += per_row[static_cast<size_t>(n * rows + r)];
      out[n] = std::sqrt(s);
    }
    return;
  }
  std::vector<double> per_plane(static_cast<size_t>(batch * channels), 0.0);
  at::parallel_for(0, batch * channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t n = k / channels, ch = k % channels;
      const int64_t o = n * a.stride(0) + ch * a.stride(1);
      const PlanePair<T> plane{pa + o, pb + o, a.size(2), a.size(3), a.stride(2), a.stride(3)};
      per_plane[static_cast<size_t>(k)] = plane_sum_of_squares(plane, inv_2h);
    }
  });
  for (int64_t n = 0; n < batch; ++n) {
    double s = 0;
    for (int64_t ch = 0; ch < channels; ++ch)
      s += per_plane[static_cast<size_t>(n * channels + ch)];
    out[n] = std::sqrt(s);
  }
}

}  // namespace

torch::Tensor rotation_generator(const torch::Tensor& y) {
  const int64_t rows = y.size(2), cols = y.size(3);
  const auto options = y.options();
  const torch::Tensor r = (torch::arange(rows, options) - (rows - 1) / 2.0).view({1, 1, rows, 1});
  const torch::Tensor c = (torch::arange(cols, options) - (cols - 1) / 2.0).view({1, 1, 1, cols});
  return central_gradient(y, 2).mul_(c).sub_(central_gradient(y, 3).mul_(r));
}

torch::Tensor rotation_lie_norms_reference(const torch::Tensor& a, const torch::Tensor& b,
                                           double h) {
  const torch::Tensor lie = (a - b).div_(2 * h).sub_(rotation_generator(a + b).mul_(0.5));
  return lie.reshape({lie.size(0), -1}).norm(2, 1).to(torch::kDouble);
}

torch::Tensor rotation_lie_norms(const torch::Tensor& a, const torch::Tensor& b, double h) {
  TORCH_CHECK(a.dim() == 4 && a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
                  a.strides() == b.strides(),
              "eqnn::probe::rotation_lie_norms: expected two (B, C, H, W) tensors of the same "
              "sizes, strides and dtype, got ",
              a.sizes(), " and ", b.sizes());
  const auto type = a.scalar_type();
  if (!a.device().is_cpu() || (type != torch::kFloat && type != torch::kDouble) || a.numel() == 0)
    return rotation_lie_norms_reference(a, b, h);
  torch::Tensor out = torch::empty({a.size(0)}, torch::kDouble);
  if (type == torch::kFloat)
    fill_norms<float>(a, b, h, out.data_ptr<double>());
  else
    fill_norms<double>(a, b, h, out.data_ptr<double>());
  return out;
}

}  // namespace detail
}  // namespace probe
}  // namespace eqnn
