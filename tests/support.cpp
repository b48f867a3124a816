#include "support.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <stdexcept>

#include <unistd.h>

namespace eqnn_test {

namespace {
const Mat2 kIdentity{1, 0, 0, 1};
const Mat2 kR{0, -1, 1, 0};
const Mat2 kM{-1, 0, 0, 1};

Mat2 power(const Mat2& m, int n) {
  Mat2 out = kIdentity;
  for (int i = 0; i < n; ++i)
    out = out * m;
  return out;
}

int64_t pad_index(int64_t i, int64_t n, eqnn::PaddingMode mode) {
  using eqnn::PaddingMode;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PaddingMode::Zeros:
      return -1;
    case PaddingMode::Reflect:
      return i < 0 ? -i : 2 * (n - 1) - i;
    case PaddingMode::Replicate:
      return i < 0 ? 0 : n - 1;
    case PaddingMode::Circular:
      return ((i % n) + n) % n;
  }
  return -1;
}
}  // namespace

std::vector<Mat2> element_matrices(const eqnn::Group& group) {
  // conventions.md: D4 index t = 4m + r for M^m R^r; subgroups list elements in D4 index order.
  std::vector<int> d4;
  const std::string& n = group.name();
  if (n == "C1") d4 = {0};
  if (n == "C2") d4 = {0, 2};
  if (n == "C4") d4 = {0, 1, 2, 3};
  if (n == "D1") d4 = {0, 4};
  if (n == "D2") d4 = {0, 2, 4, 6};
  if (n == "D4") d4 = {0, 1, 2, 3, 4, 5, 6, 7};
  if (d4.empty()) throw std::runtime_error("unknown group " + n);
  std::vector<Mat2> out;
  for (int t : d4)
    out.push_back(power(kM, t / 4) * power(kR, t % 4));
  return out;
}

int index_of(const std::vector<Mat2>& elements, const Mat2& m) {
  for (size_t i = 0; i < elements.size(); ++i)
    if (elements[i] == m) return static_cast<int>(i);
  throw std::runtime_error("matrix is not in the group");
}

torch::Tensor act_on_plane_by_coordinates(const torch::Tensor& x, const Mat2& g) {
  const int64_t rows = x.size(-2), cols = x.size(-1);
  const Mat2 inv = g.inverse();
  torch::Tensor out = torch::empty_like(x);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      // doubled centred coordinates, so even sizes stay integral
      const int64_t u = 2 * i - (rows - 1), v = 2 * j - (cols - 1);
      const int64_t su = inv.a * u + inv.b * v, sv = inv.c * u + inv.d * v;
      const int64_t si = (su + rows - 1) / 2, sj = (sv + cols - 1) / 2;
      out.select(-2, i).select(-1, j).copy_(x.select(-2, si).select(-1, sj));
    }
  }
  return out;
}

torch::Tensor direct_conv(const torch::Tensor& x_in, const torch::Tensor& w_in,
                          const torch::Tensor& bias_in, const eqnn::Group& group, int64_t stride,
                          int64_t padding, int64_t dilation, eqnn::PaddingMode mode) {
  const bool lifting = w_in.dim() == 4;
  const torch::Tensor x = x_in.to(torch::kDouble).contiguous();
  const torch::Tensor w = (lifting ? w_in.unsqueeze(2) : w_in).to(torch::kDouble).contiguous();
  const std::vector<Mat2> h = element_matrices(group);
  const int64_t G = static_cast<int64_t>(h.size());
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  const int64_t out_fields = w.size(0), in_fields = w.size(1), in_order = w.size(2), k = w.size(3);
  const int64_t Ho = (H + 2 * padding - dilation * (k - 1) - 1) / stride + 1;
  const int64_t Wo = (W + 2 * padding - dilation * (k - 1) - 1) / stride + 1;
  torch::Tensor y = torch::zeros({B, out_fields * G, Ho, Wo}, torch::kDouble);
  auto xa = x.accessor<double, 4>();
  auto wa = w.accessor<double, 5>();
  auto ya = y.accessor<double, 4>();
  for (int64_t o = 0; o < out_fields; ++o) {
    for (int64_t t = 0; t < G; ++t) {
      const Mat2 t_inv = h[t].inverse();
      for (int64_t i = 0; i < in_fields; ++i) {
        for (int64_t s = 0; s < in_order; ++s) {
          const int64_t src_s = lifting ? 0 : index_of(h, t_inv * h[s]);
          for (int64_t qy = 0; qy < k; ++qy) {
            for (int64_t qx = 0; qx < k; ++qx) {
              const int64_t u = 2 * qy - (k - 1), v = 2 * qx - (k - 1);
              const int64_t sy = (t_inv.a * u + t_inv.b * v + k - 1) / 2;
              const int64_t sx = (t_inv.c * u + t_inv.d * v + k - 1) / 2;
              const double tap = wa[o][i][src_s][sy][sx];
              for (int64_t b = 0; b < B; ++b) {
                for (int64_t py = 0; py < Ho; ++py) {
                  const int64_t iy = pad_index(py * stride - padding + qy * dilation, H, mode);
                  if (iy < 0) continue;
                  for (int64_t px = 0; px < Wo; ++px) {
                    const int64_t ix = pad_index(px * stride - padding + qx * dilation, W, mode);
                    if (ix < 0) continue;
                    ya[b][o * G + t][py][px] += tap * xa[b][i * in_order + s][iy][ix];
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  if (bias_in.defined()) {
    y += bias_in.to(torch::kDouble).repeat_interleave(G).view({1, -1, 1, 1});
  }
  return y;
}

torch::Tensor expand_filter_aten(const torch::Tensor& weight, const eqnn::Group& group) {
  const int64_t G = group.order();
  std::vector<torch::Tensor> per_element;
  for (int64_t t = 0; t < G; ++t) {
    torch::Tensor w = weight;
    if (weight.dim() == 5) {
      // group axis: position s takes base entry idx(h_t^-1 h_s)
      std::vector<int64_t> src(G);
      for (int64_t s = 0; s < G; ++s)
        src[s] = group.compose(group.inverse(t), s);
      w = w.index_select(2, torch::tensor(src, torch::kLong));
    }
    per_element.push_back(group.act_on_plane(w, t));
  }
  torch::Tensor tw = torch::stack(per_element, 1);  // (Cout, G, Cin, [G,] k, k)
  const int64_t k = weight.size(-1);
  return tw.reshape({weight.size(0) * G, -1, k, k});
}

torch::Tensor randn(std::vector<int64_t> shape, torch::ScalarType dtype, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randn(shape, torch::TensorOptions().dtype(dtype));
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace eqnn_test

namespace eqnn_test {

torch::Tensor group_action_aten(const torch::Tensor& x, const eqnn::Group& group,
                                const std::vector<int64_t>& elements, eqnn::FieldKind kind) {
  std::vector<torch::Tensor> copies;
  for (const int64_t g : elements) {
    torch::Tensor y = x;
    if (kind == eqnn::FieldKind::Regular) {
      std::vector<int64_t> shape = {x.size(0), x.size(1) / group.order(), group.order()};
      for (int64_t d = 2; d < x.dim(); ++d)
        shape.push_back(x.size(d));
      y = y.reshape(shape).index_select(2, group.regular_permutation(g)).reshape(x.sizes());
    }
    if (x.dim() == 4) y = group.act_on_plane(y, g);
    copies.push_back(y);
  }
  return torch::cat(copies, 0);
}

double max_gradient_error(torch::Tensor param, const std::function<torch::Tensor()>& f,
                          const torch::Tensor& probe) {
  // a view of param's entries in memory order (dense NCHW or channels_last)
  auto flatten = [](const torch::Tensor& t) {
    return t.is_contiguous() ? t.view(-1) : t.permute({0, 2, 3, 1}).view(-1);
  };
  param.mutable_grad() = torch::Tensor();
  (f() * probe).sum().backward();
  const torch::Tensor analytic = flatten(param.grad().contiguous(param.suggest_memory_format()));
  const double h = 1e-6;
  double worst = 0;
  torch::NoGradGuard no_grad;
  torch::Tensor flat = flatten(param);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double saved = flat[i].item<double>();
    flat[i] = saved + h;
    const double plus = (f() * probe).sum().item<double>();
    flat[i] = saved - h;
    const double minus = (f() * probe).sum().item<double>();
    flat[i] = saved;
    worst = std::max(worst, std::abs((plus - minus) / (2 * h) - analytic[i].item<double>()));
  }
  return worst;
}

eqnn::data::ImageDataset shapes_dataset(int64_t n, const std::string& idx_prefix) {
  torch::manual_seed(11);
  torch::Tensor pixels = (torch::rand({n, 12, 12}) * 60).to(torch::kByte);
  torch::Tensor labels = torch::arange(n, torch::kLong).remainder(3).to(torch::kByte);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = labels[i].item<int64_t>();
    if (c == 0) pixels[i].narrow(0, 5, 2).fill_(250);                  // horizontal bar
    if (c == 1) pixels[i].narrow(0, 2, 8).narrow(1, 2, 8).fill_(250);  // filled square
    if (c == 2) {                                                      // square outline
      pixels[i].narrow(0, 2, 8).narrow(1, 2, 8).fill_(250);
      pixels[i].narrow(0, 4, 4).narrow(1, 4, 4).fill_(0);
    }
  }
  // a temporary pair is named by the process: CTest runs test cases in parallel in one directory
  const std::string prefix =
      idx_prefix.empty() ? "eqnn_shapes_" + std::to_string(::getpid()) : idx_prefix;
  const std::string images = prefix + "-images.idx" + (idx_prefix.empty() ? ".gz" : "");
  const std::string label_file = prefix + "-labels.idx" + (idx_prefix.empty() ? ".gz" : "");
  eqnn::data::write_idx(images, pixels, idx_prefix.empty());
  eqnn::data::write_idx(label_file, labels, idx_prefix.empty());
  auto data = eqnn::data::load_idx_images(images, label_file);
  if (idx_prefix.empty()) {
    std::remove(images.c_str());
    std::remove(label_file.c_str());
  }
  return data;
}

const eqnn::probe::ReportRow& report_row(const eqnn::probe::Report& r, const std::string& model,
                                         int64_t stage, const std::string& metric,
                                         const std::string& deviation) {
  const eqnn::probe::ReportRow* found = r.find(model, stage, metric, deviation);
  if (found == nullptr)
    FAIL("no row " << model << " stage " << stage << " " << metric << " " << deviation);
  return *found;
}

}  // namespace eqnn_test
