// Steerable filters: the basis and its samples against the continuous functions evaluated at
// rotated grid points (a defining-sum oracle written here), the expansion op and its CUDA thread
// bodies, the layers against the defining sum of the convolution, exactness of the elements on the
// grid, and the He-variance initialisation.
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "eqnn/detail/cpu_launch.h"
#include "eqnn/detail/steerable_filter_kernel.h"
#include "eqnn/models.h"
#include "eqnn/steerable_basis.h"
#include "eqnn/testing/catch2.h"
#include "support.h"

using eqnn::Group;
using eqnn::SteerableBasis;

namespace {

/// The 2x2 matrix of h_t on (row, column) offsets (conventions.md, "C_N and D_N for any N").
std::array<double, 4> matrix_of(const Group& g, int64_t t) {
  const double a = 2 * M_PI * static_cast<double>(t % g.rotations()) / g.rotations();
  std::array<double, 4> m = {std::cos(a), -std::sin(a), std::sin(a), std::cos(a)};
  if (g.is_mirror(t)) {  // M R: negate the first row
    m[0] = -m[0];
    m[1] = -m[1];
  }
  return m;
}

/// Grid offsets (u, v) of a k x k filter, each (k, k) float64.
std::pair<torch::Tensor, torch::Tensor> grid_offsets(int64_t k) {
  const torch::Tensor r = torch::arange(k, torch::kDouble) - (k - 1) / 2.0;
  return {r.view({k, 1}).expand({k, k}).contiguous(), r.view({1, k}).expand({k, k}).contiguous()};
}

/// Oracle of the sampled basis: psi_b(h_t^-1 p) at grid points p, evaluated from the continuous
/// function with the inverse matrix (not through the library's closed-form angle shift).
torch::Tensor oracle_basis(const SteerableBasis& basis, const Group& g) {
  const int64_t k = basis.options().kernel_size();
  const auto [u, v] = grid_offsets(k);
  std::vector<torch::Tensor> out;
  for (int64_t t = 0; t < g.order(); ++t) {
    const auto m = matrix_of(g, t);
    // h^-1 = h^T for orthogonal h
    const torch::Tensor su = m[0] * u + m[2] * v, sv = m[1] * u + m[3] * v;
    std::vector<torch::Tensor> planes;
    for (int64_t b = 0; b < basis.size(); ++b)
      planes.push_back(basis.evaluate(b, su, sv));
    out.push_back(torch::stack(planes));
  }
  return torch::stack(out);
}

/// The expanded filter bank from coefficients by its definition, with the oracle basis.
torch::Tensor oracle_expansion(const torch::Tensor& c, const torch::Tensor& basis, const Group& g) {
  const bool lifting = c.dim() == 3;
  const int64_t out = c.size(0), in = c.size(1), in_order = lifting ? 1 : g.order();
  const int64_t k = basis.size(-1);
  torch::Tensor tw = torch::zeros({out, g.order(), in, in_order, k, k}, torch::kDouble);
  const torch::Tensor c4 = lifting ? c.unsqueeze(2) : c;
  for (int64_t t = 0; t < g.order(); ++t)
    for (int64_t s = 0; s < in_order; ++s) {
      const int64_t src = lifting ? 0 : g.compose(g.inverse(t), s);
      // (out, in, nb) x (nb, k*k)
      tw.select(1, t).select(2, s).copy_(
          torch::matmul(c4.select(2, src), basis[t].reshape({basis.size(1), k * k}))
              .view({out, in, k, k}));
    }
  return tw.reshape({out * g.order(), in * in_order, k, k});
}

/// y[b, o*|G|+t](x) = sum_{i, s, p} tw[o*|G|+t, i*|Hin|+s](p) x[b, i*|Hin|+s](x + p), written out
/// (cross-correlation, zero padding).
torch::Tensor conv_by_definition(const torch::Tensor& x, const torch::Tensor& tw,
                                 const torch::Tensor& bias, int64_t padding) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = tw.size(0), k = tw.size(3);
  const int64_t Ho = H + 2 * padding - k + 1, Wo = W + 2 * padding - k + 1;
  torch::Tensor y = torch::zeros({B, O, Ho, Wo}, torch::kDouble);
  auto xa = x.accessor<double, 4>();
  auto wa = tw.accessor<double, 4>();
  auto ya = y.accessor<double, 4>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double sum = bias.defined() ? bias[o / (O / bias.size(0))].item<double>() : 0.0;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t p = 0; p < k; ++p)
              for (int64_t q = 0; q < k; ++q) {
                const int64_t si = i + p - padding, sj = j + q - padding;
                if (si >= 0 && si < H && sj >= 0 && sj < W)
                  sum += wa[o][c][p][q] * xa[b][c][si][sj];
              }
          ya[b][o][i][j] = sum;
        }
  return y;
}

/// A smooth, disc-shaped input (nothing rotates out of the square).
torch::Tensor smooth_input(int64_t batch, int64_t channels, int64_t size, uint64_t seed) {
  const double c = (size - 1) / 2.0, radius = c - 1.0;
  const torch::Tensor r = torch::arange(size, torch::kDouble) - c;
  const torch::Tensor u = r.view({size, 1}), v = r.view({1, size});
  const torch::Tensor bump = torch::clamp(1 - (u * u + v * v) / (radius * radius), 0).pow(3);
  torch::Tensor x = torch::zeros({batch, channels, size, size}, torch::kDouble);
  const torch::Tensor a = eqnn_test::randn({batch, channels, 6}, torch::kDouble, seed);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t ch = 0; ch < channels; ++ch) {
      auto q = a[b][ch];
      x[b][ch] = bump * (q[0] + q[1] * torch::cos(0.3 * u + q[2]) * torch::cos(0.25 * v + q[3]) +
                         q[4] * u / c + q[5] * v / c);
    }
  return x;
}

}  // namespace

TEST_CASE("the steerable basis: band-limited rings, unit norms, full rank", "[steerable]") {
  for (const int64_t k : {1, 2, 3, 4, 5, 7, 9}) {
    INFO("k=" << k);
    const SteerableBasis basis(k);
    REQUIRE(basis.size() >= 1);
    CHECK(basis.size() <= k * k);
    const torch::Tensor s = basis.sample(Group::c1()).reshape({basis.size(), k * k});
    // unit norms and full rank on the grid
    CHECK(torch::allclose(s.norm(2, 1), torch::ones({basis.size()}, torch::kDouble), 0, 1e-12));
    const torch::Tensor sv = std::get<1>(torch::svd(s));
    CHECK(sv.min().item<double>() > 1e-6);
    for (const auto& f : basis.functions()) {
      CHECK(f.frequency <= static_cast<int64_t>(std::floor(M_PI * f.radius / 2)));
      CHECK(f.radius <= (k - 1) / 2);
    }
    // rotating the sampled functions keeps their energy within 8% (no aliasing rings)
    const torch::Tensor rotated = basis.sample(Group::cyclic(16));
    for (int64_t t = 0; t < 16; ++t) {
      const torch::Tensor energy = rotated[t].reshape({basis.size(), k * k}).square().sum(1);
      CHECK(energy.max().item<double>() < 1.08);
      CHECK(energy.min().item<double>() > 0.92);
    }
  }
  // 3x3: the centre ring and ring 1 at frequencies 0 and 1 (cos, sin)
  CHECK(SteerableBasis(3).size() == 4);
  CHECK(SteerableBasis(5).size() == 7);
  CHECK(SteerableBasis(9).size() == 23);
  CHECK(SteerableBasis(3).describe() == "4 functions (rings 0..1, max frequency 1)");
  CHECK(SteerableBasis(eqnn::SteerableBasisOptions(5).max_frequency(0))
            .functions()
            .back()
            .frequency == 0);
  CHECK_THROWS_WITH(SteerableBasis(0), Catch::Contains("kernel_size must be >= 1, got 0"));
  CHECK_THROWS_WITH(SteerableBasis(eqnn::SteerableBasisOptions(3).ring_width(0)),
                    Catch::Contains("ring_width must be a positive number"));
}

TEST_CASE("sampled steerable bases equal the continuous functions at rotated grid points",
          "[steerable]") {
  for (const Group& g : {Group::cyclic(8), Group::dihedral(8), Group::cyclic(6), Group::cyclic(16),
                         Group::dihedral(3), Group::d4()}) {
    for (const int64_t k : {3, 4, 5, 9}) {
      INFO(g.name() << " k=" << k);
      const SteerableBasis basis(k);
      const torch::Tensor s = basis.sample(g);
      REQUIRE(s.sizes() == torch::IntArrayRef({g.order(), basis.size(), k, k}));
      CHECK(eqnn_test::max_abs_diff(s, oracle_basis(basis, g)) < 1e-12);
      // elements that differ by a grid rotation or a mirror are exact permutations of each other
      const int64_t n = g.rotations();
      for (int64_t t = 0; t < g.order(); ++t) {
        if (n % 4 == 0) {
          const int64_t quarter = g.compose(n / 4, t);  // R_N^(N/4) h_t: a quarter turn after h_t
          CHECK(torch::equal(s[quarter], torch::rot90(s[t], 1, {-2, -1})));
        }
        if (g.has_mirrors() && t < n) CHECK(torch::equal(s[n + t], torch::flip(s[t], {-2})));
      }
    }
  }
}

TEST_CASE("steerable expansion: the CPU rows split over threads give the bodies' bits",
          "[steerable]") {
  // banks large enough that the CPU paths split their rows into several parallel chunks, float32
  // (accumulating in float32 like the bodies)
  for (const Group& g : {Group::cyclic(8), Group::dihedral(8)}) {
    for (const bool lifting : {true, false}) {
      INFO(g.name() << (lifting ? " lifting" : " group"));
      const SteerableBasis basis(5);
      const torch::Tensor b = basis.sample(g).to(torch::kFloat);
      std::vector<int64_t> shape = {6, 5};
      if (!lifting) shape.push_back(g.order());
      shape.push_back(basis.size());
      const torch::Tensor c = eqnn_test::randn(shape, torch::kFloat, 41);
      const eqnn::detail::SteerableFilterParams p{g.tables(),   6, 5, lifting ? 1 : g.order(),
                                                  basis.size(), 5};
      const torch::Tensor leaf = c.clone().requires_grad_(true);
      const torch::Tensor op = eqnn::ops::expand_steerable_filter(leaf, b, g);
      torch::Tensor body = torch::full({p.expanded_numel()}, -1.0, torch::kFloat);
      eqnn::detail::cpu_launch(8, 64, [&](int64_t bl, int64_t bd, int64_t th, int64_t gd) {
        eqnn::detail::steerable_filter_forward_thread<float, float>(
            p, c.data_ptr<float>(), b.data_ptr<float>(), body.data_ptr<float>(), bl, bd, th, gd);
      });
      CHECK(torch::equal(body.view_as(op), op));
      const torch::Tensor grad = eqnn_test::randn(op.sizes().vec(), torch::kFloat, 42);
      op.backward(grad);
      torch::Tensor body_grad = torch::full({p.coefficient_numel()}, -1.0, torch::kFloat);
      eqnn::detail::cpu_launch(8, 64, [&](int64_t bl, int64_t bd, int64_t th, int64_t gd) {
        eqnn::detail::steerable_filter_backward_thread<float, float>(
            p, grad.data_ptr<float>(), b.data_ptr<float>(), body_grad.data_ptr<float>(), bl, bd, th,
            gd);
      });
      CHECK(torch::equal(body_grad.view_as(leaf.grad()), leaf.grad()));
    }
  }
}

TEST_CASE("steerable expansion: op, CUDA thread bodies and the defining sum agree", "[steerable]") {
  for (const Group& g : {Group::cyclic(8), Group::dihedral(8), Group::cyclic(3)}) {
    for (const bool lifting : {true, false}) {
      for (const int64_t k : {3, 4}) {
        INFO(g.name() << (lifting ? " lifting" : " group") << " k=" << k);
        const SteerableBasis basis(k);
        const torch::Tensor b = basis.sample(g);
        std::vector<int64_t> shape = {3, 2};
        if (!lifting) shape.push_back(g.order());
        shape.push_back(basis.size());
        const torch::Tensor c = eqnn_test::randn(shape, torch::kDouble, 20 + k);
        const torch::Tensor oracle = oracle_expansion(c, oracle_basis(basis, g), g);
        const torch::Tensor op = eqnn::ops::expand_steerable_filter(c, b, g);
        REQUIRE(op.sizes() == oracle.sizes());
        CHECK(eqnn_test::max_abs_diff(op, oracle) < 1e-12);

        // the CUDA bodies through a CPU launch loop, grid smaller and larger than the problem
        const eqnn::detail::SteerableFilterParams p{g.tables(),   3, 2, lifting ? 1 : g.order(),
                                                    basis.size(), k};
        for (const auto& [grid, block] :
             {std::make_pair(int64_t{3}, int64_t{5}), std::make_pair(int64_t{64}, int64_t{64})}) {
          torch::Tensor body = torch::full({p.expanded_numel()}, -1.0, torch::kDouble);
          eqnn::detail::cpu_launch(grid, block,
                                   [&](int64_t bl, int64_t bd, int64_t th, int64_t gd) {
                                     eqnn::detail::steerable_filter_forward_thread<double, double>(
                                         p, c.data_ptr<double>(), b.data_ptr<double>(),
                                         body.data_ptr<double>(), bl, bd, th, gd);
                                   });
          CHECK(torch::equal(body.view_as(op), op));
        }

        // backward: the adjoint, equal to autograd through the ATen composition
        const torch::Tensor grad = eqnn_test::randn(op.sizes().vec(), torch::kDouble, 77);
        const torch::Tensor leaf = c.clone().requires_grad_(true);
        eqnn::ops::expand_steerable_filter(leaf, b, g).backward(grad);
        const torch::Tensor leaf2 = c.clone().requires_grad_(true);
        oracle_expansion(leaf2, b, g).backward(grad);
        CHECK(eqnn_test::max_abs_diff(leaf.grad(), leaf2.grad()) < 1e-11);
        torch::Tensor body_grad = torch::full({p.coefficient_numel()}, -1.0, torch::kDouble);
        eqnn::detail::cpu_launch(4, 7, [&](int64_t bl, int64_t bd, int64_t th, int64_t gd) {
          eqnn::detail::steerable_filter_backward_thread<double, double>(
              p, grad.data_ptr<double>(), b.data_ptr<double>(), body_grad.data_ptr<double>(), bl,
              bd, th, gd);
        });
        CHECK(torch::equal(body_grad.view_as(leaf.grad()), leaf.grad()));
      }
    }
  }
  // float32 / float16 / bfloat16 run (accumulating in float32)
  const Group c8 = Group::cyclic(8);
  const torch::Tensor b = SteerableBasis(3).sample(c8);
  const torch::Tensor c = eqnn_test::randn({2, 3, 8, 4}, torch::kDouble, 3);
  const torch::Tensor ref = eqnn::ops::expand_steerable_filter(c, b, c8);
  for (const auto dtype : {torch::kFloat, torch::kHalf, torch::kBFloat16}) {
    const torch::Tensor y = eqnn::ops::expand_steerable_filter(c.to(dtype), b.to(dtype), c8);
    CHECK(y.scalar_type() == dtype);
    CHECK(eqnn_test::max_abs_diff(y, ref) < (dtype == torch::kFloat ? 1e-5 : 5e-2));
  }
  // bad input is refused with the op's name
  CHECK_THROWS_WITH(eqnn::ops::expand_steerable_filter(c, b.narrow(0, 0, 4), c8),
                    Catch::Contains("the basis has 4 element samples, but |C8| = 8"));
  CHECK_THROWS_WITH(eqnn::ops::expand_steerable_filter(c.narrow(3, 0, 3), b, c8),
                    Catch::Contains("coefficients for 3 basis functions, but the basis has 4"));
  CHECK_THROWS_WITH(eqnn::ops::expand_steerable_filter(c.to(torch::kFloat), b, c8),
                    Catch::Contains("must have the dtype and device of the filter"));
  CHECK_THROWS_WITH(eqnn::ops::expand_steerable_filter(c.narrow(2, 0, 5), b, c8),
                    Catch::Contains("group axis (dim 2) to have |C8| = 8 entries"));
}

TEST_CASE("steerable convolutions equal the defining sum (C8, D8, odd and even kernels)",
          "[steerable][conv][definition]") {
  for (const Group& g : {Group::cyclic(8), Group::dihedral(8)}) {
    for (const int64_t k : {3, 4}) {
      INFO(g.name() << " k=" << k);
      const int64_t padding = k / 2, size = 7;
      eqnn::LiftingConv2d lift(eqnn::LiftingConv2dOptions(g, 2, 2, k).padding(padding));
      lift->to(torch::kDouble);
      REQUIRE(lift->steerable());
      torch::NoGradGuard no_grad;
      lift->bias.normal_();
      const SteerableBasis basis(k);
      const torch::Tensor x = eqnn_test::randn({1, 2, size, size}, torch::kDouble, 4);
      const torch::Tensor tw = oracle_expansion(lift->weight, oracle_basis(basis, g), g);
      CHECK(eqnn_test::max_abs_diff(lift->forward(x),
                                    conv_by_definition(x, tw, lift->bias, padding)) < 1e-12);

      eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, 2, 2, k).padding(padding));
      conv->to(torch::kDouble);
      conv->bias.normal_();
      const torch::Tensor xg = eqnn_test::randn({1, 2 * g.order(), size, size}, torch::kDouble, 5);
      const torch::Tensor twg = oracle_expansion(conv->weight, oracle_basis(basis, g), g);
      CHECK(eqnn_test::max_abs_diff(conv->forward(xg),
                                    conv_by_definition(xg, twg, conv->bias, padding)) < 1e-12);
      // the exported plain conv computes the same
      CHECK(eqnn_test::max_abs_diff(conv->export_module()->forward(xg), conv->forward(xg)) < 1e-12);
    }
  }
}

TEST_CASE("steerable layers: exact on the grid elements, measured off the grid",
          "[steerable][equivariance]") {
  for (const Group& g : {Group::cyclic(8), Group::dihedral(8)}) {
    for (const auto dtype : eqnn_test::float_types()) {
      for (const int64_t size : {17, 16}) {
        for (const int64_t k : {3, 4, 5}) {
          INFO(g.name() << " " << c10::toString(dtype) << " size=" << size << " k=" << k);
          const int64_t padding = (k - 1) / 2;
          eqnn::LiftingConv2d lift(eqnn::LiftingConv2dOptions(g, 2, 3, k).padding(padding));
          lift->to(dtype);
          eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, 3, 2, k).padding(padding));
          conv->to(dtype);
          const torch::Tensor x = smooth_input(2, 2, size, 11).to(dtype);
          auto report = eqnn::check_equivariance(lift, x);
          INFO(report.str());
          CHECK(report.passed());  // the elements on the grid, with the exact tolerance
          CHECK(report.max_interpolated_error() > 0);
          const torch::Tensor xg = lift->forward(x);
          auto report_g = eqnn::check_equivariance(conv, xg);
          INFO(report_g.str());
          CHECK(report_g.passed());
          for (const auto& e : report_g.elements)
            CHECK(e.interpolated == !g.on_grid(e.element));
        }
      }
    }
  }
}

TEST_CASE("steerable coefficients keep He's variance, and the basis option is checked",
          "[steerable][conv]") {
  torch::manual_seed(3);
  const Group c8 = Group::cyclic(8);
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(c8, 16, 16, 5));
  const torch::Tensor tw = conv->expanded_weight();
  const double he = 2.0 / (16 * 8 * 25);
  CHECK(tw.var().item<double>() == Approx(he).epsilon(0.1));
  CHECK(conv->weight.sizes() == torch::IntArrayRef({16, 16, 8, eqnn::SteerableBasis(5).size()}));
  std::ostringstream os;
  conv->pretty_print(os);
  CHECK_THAT(os.str(), Catch::Contains("steerable basis: "));
  // the grid groups keep pixel filters unless asked
  eqnn::GroupConv2d pixel(eqnn::GroupConv2dOptions(Group::d4(), 2, 2, 3));
  CHECK_FALSE(pixel->steerable());
  eqnn::GroupConv2d steer(
      eqnn::GroupConv2dOptions(Group::d4(), 2, 2, 3).basis(eqnn::FilterBasis::Steerable));
  CHECK(steer->steerable());
  CHECK_THROWS_WITH(
      eqnn::LiftingConv2d(eqnn::LiftingConv2dOptions(c8, 1, 2, 3).basis(eqnn::FilterBasis::Pixel)),
      Catch::Contains("eqnn::LiftingConv2d: C8 rotates by angles that are not multiples of 90"));
  CHECK_THROWS_WITH(eqnn::ops::expand_group_filter(torch::zeros({1, 1, 8, 3, 3}), c8),
                    Catch::Contains("pixel filter cannot be rotated exactly"));
}

TEST_CASE("interpolated elements stay within the measured accuracy table",
          "[steerable][accuracy]") {
  // docs/equivariance_accuracy.md, cutoff 0.125, k = 3, 17x17: lifting 2.62e-2, group 3.47e-2 (C8)
  // and 3.05e-2 (D8) relative L2; tolerances 1.5 times the table.
  eqnn::InterpolationErrorOptions options;
  options.groups = {Group::cyclic(8), Group::dihedral(8)};
  options.kernel_sizes = {3};
  options.sizes = {17};
  options.network = false;
  const auto rows = eqnn::measure_interpolation_error(options);
  REQUIRE(rows.size() == 6);
  for (const auto& row : rows) {
    INFO(row.group << " " << row.layer << " " << row.element << " L2 " << row.relative_rms);
    CHECK(row.relative_rms > 1e-3);  // interpolation is never exact
    if (row.layer == "input") {
      CHECK(row.relative_rms < 0.15);
      continue;
    }
    CHECK(row.grid_max < 1e-13);
    CHECK(row.relative_rms < (row.layer == "LiftingConv2d" ? 0.04 : 0.055));
  }
  const std::string table = eqnn::interpolation_error_table(rows);
  CHECK_THAT(table, Catch::Contains("| C8 | GroupConv2d | 3 | 17 |"));
  // a band-limited input: unit RMS, zero outside the disc window
  const torch::Tensor x = eqnn::band_limited_input({1, 1, 32, 32}, 0.125, 3);
  CHECK(x.square().mean().item<double>() == Approx(1.0));
  CHECK(x[0][0][0][0].item<double>() == 0.0);
  CHECK_THROWS_WITH(eqnn::band_limited_input({1, 1, 32, 32}, 0.7, 0),
                    Catch::Contains("cutoff must be in (0, 0.5]"));
}

TEST_CASE("the example G-CNN pools with antialiasing off the grid: exact on it, closer off it",
          "[steerable][network]") {
  for (const auto dtype : eqnn_test::float_types()) {
    for (const int64_t size : {17, 16}) {
      INFO(c10::toString(dtype) << " size=" << size);
      const Group c8 = Group::cyclic(8);
      torch::manual_seed(5);
      auto net = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(c8, size));
      torch::manual_seed(5);
      auto aliased =
          eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(c8, size).antialias(false));
      std::ostringstream printed, printed_aliased, printed_d4;
      printed << *net;
      printed_aliased << *aliased;
      printed_d4 << *eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(Group::d4(), size));
      CHECK_THAT(printed.str(), Catch::Contains("antialias binomial"));
      CHECK_THAT(printed_aliased.str(), !Catch::Contains("antialias"));
      CHECK_THAT(printed_d4.str(), !Catch::Contains("antialias"));  // grid groups: as before

      const torch::Tensor x = smooth_input(4, 1, size, 21).to(dtype);
      double errors[2];
      int i = 0;
      for (auto* model : {&net, &aliased}) {
        (*model)->to(dtype);
        (*model)->forward(x);  // one training pass for the running statistics
        (*model)->eval();
        const auto report = eqnn::check_equivariance(*model, x);
        INFO(report.str());
        CHECK(report.passed());  // the logits: exactly invariant on the grid elements
        errors[i++] = report.max_interpolated_error();
      }
      // blurring before the strided max pool removes most of its aliasing off the grid
      CHECK(errors[0] > 0);
      CHECK(errors[0] < 0.8 * errors[1]);

      // eqnn demo's second G-CNN: 5x5 group convolutions, a 7x7 lifting layer, 7/14/28 fields,
      // the binomial blur; every stage exact on the grid elements and within the interpolation
      // tolerance off it
      auto demo_shape = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(c8, size)
                                                     .kernel_size(5)
                                                     .lift_kernel_size(7)
                                                     .fields1(7)
                                                     .fields2(14)
                                                     .fields3(28));
      demo_shape->to(dtype);
      demo_shape->forward(x);
      demo_shape->eval();
      const auto stages = eqnn::check_equivariance_per_stage(demo_shape, x);
      REQUIRE(stages.size() == demo_shape->size());
      for (const auto& stage : stages) {
        INFO(stage.name << "\n" << stage.report.str());
        CHECK(stage.report.passed());
      }
    }
  }
}
