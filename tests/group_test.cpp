#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support.h"

using eqnn::Group;
using eqnn_test::element_matrices;
using eqnn_test::index_of;

TEST_CASE("groups satisfy the group axioms and match the matrix model", "[group]") {
  const std::vector<std::pair<std::string, int64_t>> expected = {{"C1", 1}, {"C2", 2}, {"C4", 4},
                                                                 {"D1", 2}, {"D2", 4}, {"D4", 8}};
  const auto groups = Group::all();
  REQUIRE(groups.size() == expected.size());
  for (size_t n = 0; n < groups.size(); ++n) {
    const Group& g = groups[n];
    INFO(g.name());
    CHECK(g.name() == expected[n].first);
    REQUIRE(g.order() == expected[n].second);
    const auto h = element_matrices(g);
    CHECK(g.identity() == 0);
    for (int64_t a = 0; a < g.order(); ++a) {
      CHECK(g.compose(a, g.identity()) == a);
      CHECK(g.compose(g.identity(), a) == a);
      CHECK(g.compose(a, g.inverse(a)) == 0);
      CHECK(g.compose(g.inverse(a), a) == 0);
      for (int64_t b = 0; b < g.order(); ++b) {
        // composition is matrix multiplication of M^m R^r
        CHECK(g.compose(a, b) == index_of(h, h[a] * h[b]));
        for (int64_t c = 0; c < g.order(); ++c)
          CHECK(g.compose(g.compose(a, b), c) == g.compose(a, g.compose(b, c)));
      }
    }
    // each row of the Cayley table is a permutation (Latin square)
    for (const auto& row : g.cayley_table()) {
      std::vector<int64_t> sorted = row;
      std::sort(sorted.begin(), sorted.end());
      for (int64_t i = 0; i < g.order(); ++i)
        CHECK(sorted[i] == i);
    }
  }
  CHECK(Group::d4().element_name(5) == "MR");
  CHECK(Group::d2().element_name(3) == "MR^2");
  CHECK(Group::c4().has_quarter_turns());
  CHECK_FALSE(Group::d2().has_quarter_turns());
  CHECK(Group::d1().has_mirrors());
  CHECK_FALSE(Group::c4().has_mirrors());
}

TEST_CASE("group names resolve, and unknown names fail clearly", "[group]") {
  CHECK(Group::from_name("p4") == Group::c4());
  CHECK(Group::from_name("P4M") == Group::d4());
  CHECK(Group::from_name("d2") == Group::d2());
  CHECK(Group::from_name("C1") == Group::c1());
  CHECK_THROWS_WITH(Group::from_name("x3"), Catch::Contains("unknown group 'x3'"));
  CHECK_THROWS_WITH(Group::c4().compose(0, 4), Catch::Contains("out of range for C4"));
}

TEST_CASE("Cayley tables match the shared reference manifest", "[group]") {
  std::ifstream in(std::string(EQNN_TEST_DATA_DIR) + "/reference/manifest.json");
  REQUIRE(in.good());
  const auto manifest = nlohmann::json::parse(in);
  const auto& conv = manifest.at("conventions");
  for (const auto& [group, key] : {std::make_pair(Group::c4(), std::string("C4")),
                                   std::make_pair(Group::d4(), std::string("D4"))}) {
    const auto table = conv.at(key + " cayley table[a][b]=idx(h_a h_b)");
    const auto inverse = conv.at(key + " inverse");
    for (int64_t a = 0; a < group.order(); ++a) {
      CHECK(group.inverse(a) == inverse.at(a).get<int64_t>());
      for (int64_t b = 0; b < group.order(); ++b)
        CHECK(group.compose(a, b) == table.at(a).at(b).get<int64_t>());
    }
  }
}

TEST_CASE("tensor actions are homomorphisms and match the coordinate definition", "[group]") {
  for (const Group& g : Group::all()) {
    const auto h = element_matrices(g);
    // odd and even planes; groups without quarter turns also act on rectangles
    std::vector<std::pair<int64_t, int64_t>> planes = {{5, 5}, {6, 6}};
    if (!g.has_quarter_turns()) planes.push_back({4, 7});
    for (const auto& [rows, cols] : planes) {
      INFO(g.name() << " plane " << rows << "x" << cols);
      const torch::Tensor trivial = eqnn_test::randn({2, 3, rows, cols}, torch::kDouble, 1);
      const torch::Tensor regular =
          eqnn_test::randn({2, 3 * g.order(), rows, cols}, torch::kDouble, 2);
      const torch::Tensor flat = eqnn_test::randn({2, 3 * g.order()}, torch::kDouble, 3);
      for (int64_t a = 0; a < g.order(); ++a) {
        CHECK(torch::equal(g.act_on_plane(trivial, a),
                           eqnn_test::act_on_plane_by_coordinates(trivial, h[a])));
        for (int64_t b = 0; b < g.order(); ++b) {
          const int64_t ab = g.compose(a, b);
          CHECK(torch::equal(g.act_on_trivial(g.act_on_trivial(trivial, b), a),
                             g.act_on_trivial(trivial, ab)));
          CHECK(torch::equal(g.act_on_regular(g.act_on_regular(regular, b), a),
                             g.act_on_regular(regular, ab)));
          CHECK(torch::equal(g.act_on_regular(g.act_on_regular(flat, b), a),
                             g.act_on_regular(flat, ab)));
        }
      }
      // the regular action at a fixed pixel permutes the group axis as (L_g f)[t] = f[g^-1 h_t]
      const auto perm = g.regular_permutation(g.order() - 1);
      for (int64_t t = 0; t < g.order(); ++t)
        CHECK(perm[t].item<int64_t>() == index_of(h, h[g.order() - 1].inverse() * h[t]));
    }
  }
  CHECK_THROWS_WITH(Group::c4().act_on_plane(torch::zeros({1, 1, 4, 5}), 1),
                    Catch::Contains("needs a square plane, got 4x5"));
}
