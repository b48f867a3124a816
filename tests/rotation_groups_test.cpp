// C_N and D_N for any N: the element order and composition against a float matrix model written
// here, the grid groups as the cases N = 1, 2, 4, names, and the plane action off the grid
// (bilinear rotation) against its exact grid counterpart.
#include <catch2/catch.hpp>

#include <cmath>

#include "support.h"

using eqnn::Group;

namespace {

struct Matrix {
  double a, b, c, d;  // [[a, b], [c, d]] on (row, column) offsets
  Matrix operator*(const Matrix& o) const {
    return {a * o.a + b * o.c, a * o.b + b * o.d, c * o.a + d * o.c, c * o.b + d * o.d};
  }
  bool near(const Matrix& o) const {
    return std::abs(a - o.a) + std::abs(b - o.b) + std::abs(c - o.c) + std::abs(d - o.d) < 1e-9;
  }
};

/// conventions.md: element N m + r is M^m R_N^r, R_N(u, v) rotating by 360/N degrees as R(u, v) =
/// (-v, u) does by 90, M(u, v) = (-u, v).
Matrix element_matrix(int64_t n, int64_t t) {
  const double angle = 2 * M_PI * static_cast<double>(t % n) / static_cast<double>(n);
  const Matrix rotation{std::cos(angle), -std::sin(angle), std::sin(angle), std::cos(angle)};
  const Matrix mirror{-1, 0, 0, 1};
  return t >= n ? mirror * rotation : rotation;
}

int64_t find(const Group& g, const Matrix& m) {
  for (int64_t t = 0; t < g.order(); ++t)
    if (element_matrix(g.rotations(), t).near(m)) return t;
  return -1;
}

/// A smooth test image: a few low frequencies inside a disc (so rotation does not cut it off).
torch::Tensor smooth_disc(int64_t size, torch::ScalarType dtype) {
  const double c = (size - 1) / 2.0, radius = c - 0.5;
  torch::Tensor y = torch::arange(size, torch::kDouble).sub(c).view({size, 1}).expand({size, size});
  torch::Tensor x = torch::arange(size, torch::kDouble).sub(c).view({1, size}).expand({size, size});
  const torch::Tensor r2 = (x * x + y * y) / (radius * radius);
  const torch::Tensor bump = torch::clamp(1 - r2, 0).pow(3);
  const torch::Tensor waves = torch::cos(0.35 * x + 0.2) * torch::sin(0.25 * y + 0.5) + 0.3 * x / c;
  return (bump * (1.5 + waves)).view({1, 1, size, size}).to(dtype);
}

}  // namespace

TEST_CASE("C_N and D_N satisfy the group axioms and match the matrix model", "[group]") {
  for (const int64_t n : {1, 2, 3, 4, 5, 6, 8, 12, 16}) {
    for (const Group& g : {Group::cyclic(n), Group::dihedral(n)}) {
      INFO(g.name());
      CHECK(g.order() == (g.has_mirrors() ? 2 * n : n));
      CHECK(g.rotations() == n);
      CHECK(g.name() == std::string(g.has_mirrors() ? "D" : "C") + std::to_string(n));
      CHECK(Group::from_name(g.name()) == g);
      for (int64_t a = 0; a < g.order(); ++a) {
        CHECK(g.compose(a, g.inverse(a)) == 0);
        CHECK(g.is_mirror(a) == (a >= n));
        CHECK(g.rotation_degrees(a) == Approx(360.0 * (a % n) / n));
        CHECK(g.on_grid(a) == ((4 * (a % n)) % n == 0));
        for (int64_t b = 0; b < g.order(); ++b) {
          const int64_t ab = g.compose(a, b);
          REQUIRE(ab == find(g, element_matrix(n, a) * element_matrix(n, b)));
          for (int64_t c = 0; c < g.order(); c += 3)
            CHECK(g.compose(ab, c) == g.compose(a, g.compose(b, c)));
        }
        // the regular permutation is the inverse's left multiplication
        const torch::Tensor perm = g.regular_permutation(a);
        for (int64_t t = 0; t < g.order(); ++t)
          CHECK(perm[t].item<int64_t>() == g.compose(g.inverse(a), t));
      }
      CHECK(g.needs_square_planes() == (n > 2));
      CHECK(g.has_quarter_turns() == (n % 4 == 0));
      CHECK(g.is_grid_group() == (n == 1 || n == 2 || n == 4));
    }
  }
  // the grid groups are the cases N = 1, 2, 4, in D4 index order and with D4's names
  CHECK(Group::cyclic(4) == Group::c4());
  CHECK(Group::dihedral(2) == Group::d2());
  for (const Group& g : Group::all())
    for (int64_t t = 0; t < g.order(); ++t)
      CHECK(g.d4_index(t) == 4 * (t / g.rotations()) + (4 / g.rotations()) * (t % g.rotations()));
  CHECK(Group::d2().element_name(1) == "R^2");
  // other groups name elements after their own generator
  const Group c8 = Group::cyclic(8), d8 = Group::dihedral(8);
  CHECK(c8.element_name(0) == "e");
  CHECK(c8.element_name(1) == "R");
  CHECK(c8.element_name(3) == "R^3");
  CHECK(d8.element_name(8) == "M");
  CHECK(d8.element_name(13) == "MR^5");
  // C4 sits in C8 as its even rotations, with the same composition
  for (int64_t a = 0; a < 4; ++a) {
    CHECK(c8.d4_index(2 * a) == Group::c4().d4_index(a));
    for (int64_t b = 0; b < 4; ++b)
      CHECK(c8.compose(2 * a, 2 * b) == 2 * Group::c4().compose(a, b));
  }
  CHECK_THROWS_WITH(c8.d4_index(1), Catch::Contains("rotates by 45 degrees"));
}

TEST_CASE("group names for any N resolve, and bad ones fail clearly", "[group]") {
  CHECK(Group::from_name("c8") == Group::cyclic(8));
  CHECK(Group::from_name("D16") == Group::dihedral(16));
  CHECK(Group::from_name("c128").order() == 128);
  CHECK(Group::from_name("d64").order() == 128);
  CHECK_THROWS_WITH(Group::from_name("c129"), Catch::Contains("too large"));
  CHECK_THROWS_WITH(Group::from_name("d65"), Catch::Contains("N up to 64"));
  for (const char* bad : {"c0", "c08", "c", "d-4", "c4x", "e4", "c123456", ""})
    CHECK_THROWS_WITH(Group::from_name(bad), Catch::Contains("unknown group"));
  CHECK_THROWS_WITH(Group::cyclic(0), Catch::Contains("N must be in [1, 128], got 0"));
  CHECK_THROWS_WITH(Group::dihedral(65), Catch::Contains("N must be in [1, 64], got 65"));
}

TEST_CASE("the plane action off the grid interpolates, on the grid it is exact", "[group]") {
  const Group d8 = Group::dihedral(8);
  for (const auto dtype : {torch::kFloat, torch::kDouble}) {
    for (const int64_t size : {31, 32}) {
      INFO("size " << size << " dtype " << dtype);
      const torch::Tensor x = smooth_disc(size, dtype);
      const double scale = x.abs().max().item<double>();
      // grid elements: an index permutation, bit for bit the same as the grid group's D4
      for (int64_t t = 0; t < d8.order(); t += 2)
        CHECK(torch::equal(d8.act_on_plane(x, t),
                           Group::d4().act_on_plane(x, 4 * (t / 8) + t % 8 / 2)));
      // rotate_bilinear by a multiple of 90 degrees reproduces rot90 up to rounding
      CHECK(eqnn_test::max_abs_diff(eqnn::rotate_bilinear(x, 90), torch::rot90(x, 1, {2, 3})) <
            1e-5 * scale);
      // off the grid: R twice is R^2 up to interpolation, and R^-1 R is the identity up to it
      const torch::Tensor twice = d8.act_on_plane(d8.act_on_plane(x, 1), 1);
      const double err = eqnn_test::max_abs_diff(twice, d8.act_on_plane(x, 2)) / scale;
      CHECK(err < 0.05);
      CHECK(err > 1e-4);  // it is an interpolation, not a permutation
      const torch::Tensor back = d8.act_on_plane(d8.act_on_plane(x, 1), d8.inverse(1));
      CHECK(eqnn_test::max_abs_diff(back, x) / scale < 0.05);
      // a mirror off the grid: L_{MR} = L_M L_R
      CHECK(torch::equal(d8.act_on_plane(x, 9), torch::flip(d8.act_on_plane(x, 1), {2})));
    }
  }
  CHECK_THROWS_WITH(Group::cyclic(8).act_on_plane(torch::zeros({1, 1, 4, 6}), 1),
                    Catch::Contains("rotates by 45 degrees and needs a square plane, got 4x6"));
  CHECK_THROWS_WITH(eqnn::rotate_bilinear(torch::zeros({3, 4}), 30),
                    Catch::Contains("square plane"));
  CHECK_THROWS_WITH(eqnn::rotate_bilinear(torch::zeros({4, 4}), NAN), Catch::Contains("finite"));
}

TEST_CASE("the regular action of C_N and D_N is a group action on the group axis", "[group]") {
  for (const Group& g :
       {Group::cyclic(8), Group::dihedral(8), Group::cyclic(3), Group::dihedral(6)}) {
    INFO(g.name());
    // without a plane (B, F*|G|) and on a 1x1 plane, the regular action is a permutation: exact
    const torch::Tensor flat = eqnn_test::randn({2, 3 * g.order()}, torch::kDouble, 7);
    const torch::Tensor point = flat.view({2, 3 * g.order(), 1, 1});
    for (int64_t a = 0; a < g.order(); ++a) {
      for (int64_t b = 0; b < g.order(); ++b) {
        CHECK(torch::equal(g.act_on_regular(g.act_on_regular(flat, b), a),
                           g.act_on_regular(flat, g.compose(a, b))));
        CHECK(torch::equal(g.act_on_regular(g.act_on_regular(point, b), a),
                           g.act_on_regular(point, g.compose(a, b))));
      }
    }
    // on a plane: the channels move exactly, the plane as act_on_plane does; several elements in
    // one call (on and off the grid) equal the calls one by one, in NCHW and channels_last
    const int64_t size = 9;
    const torch::Tensor x = eqnn_test::randn({2, 2 * g.order(), size, size}, torch::kDouble, 8);
    std::vector<int64_t> elements;
    for (int64_t t = 0; t < g.order() && elements.size() < 16; ++t)
      elements.push_back(t);
    for (const auto format : {torch::MemoryFormat::Contiguous, torch::MemoryFormat::ChannelsLast}) {
      const torch::Tensor xf = x.contiguous(format);
      const torch::Tensor all = eqnn::ops::group_action(xf, g, elements, eqnn::FieldKind::Regular);
      CHECK(all.is_contiguous(format));
      for (size_t k = 0; k < elements.size(); ++k) {
        const int64_t e = elements[k];
        const torch::Tensor one = g.act_on_regular(xf, e);
        CHECK(torch::equal(all.narrow(0, 2 * static_cast<int64_t>(k), 2), one));
        const torch::Tensor by_hand = g.act_on_plane(
            x.view({2, 2, g.order(), size, size}).index_select(2, g.regular_permutation(e)), e);
        CHECK(eqnn_test::max_abs_diff(one, by_hand.view_as(x)) < 1e-12);
      }
    }
  }
}
