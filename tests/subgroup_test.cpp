// Subgroups and structure: the embedding of C_M / D_M into C_N / D_N, restriction of fields, mirror
// coset pooling and upsampling, each checked equivariant (float32 and float64, odd and even sizes)
// and against its plain-LibTorch export.
#include <catch2/catch.hpp>

#include "eqnn/testing/catch2.h"
#include "support.h"

using eqnn::Group;

TEST_CASE("subgroups embed with the same rotations and mirror", "[group][subgroup]") {
  const Group c8 = Group::cyclic(8), d8 = Group::dihedral(8);
  CHECK(c8.has_subgroup(Group::c4()));
  CHECK(d8.has_subgroup(c8));
  CHECK(d8.has_subgroup(Group::d4()));
  CHECK(Group::d4().has_subgroup(Group::d2()));
  CHECK_FALSE(c8.has_subgroup(Group::d1()));
  CHECK_FALSE(c8.has_subgroup(Group::cyclic(3)));
  CHECK_FALSE(Group::c4().has_subgroup(c8));
  for (const auto& [big, small] : {std::make_pair(d8, Group::d4()), std::make_pair(d8, c8),
                                   std::make_pair(Group::d4(), Group::d2()),
                                   std::make_pair(Group::dihedral(6), Group::dihedral(3))}) {
    INFO(small.name() << " in " << big.name());
    for (int64_t a = 0; a < small.order(); ++a) {
      const int64_t ea = big.embed(small, a);
      CHECK(big.rotation_degrees(ea) == Approx(small.rotation_degrees(a)));
      CHECK(big.is_mirror(ea) == small.is_mirror(a));
      for (int64_t b = 0; b < small.order(); ++b)  // a homomorphism
        CHECK(big.embed(small, small.compose(a, b)) == big.compose(ea, big.embed(small, b)));
    }
  }
  // D2 sits in D4 as the D4 indices listed in conventions.md
  for (int64_t t = 0; t < 4; ++t)
    CHECK(Group::d4().embed(Group::d2(), t) == Group::d2().d4_index(t));
  CHECK_THROWS_WITH(c8.embed(Group::d1(), 1), Catch::Contains("D1 is not a subgroup of C8"));
}

TEST_CASE("RestrictFields and CosetPool are equivariant to the subgroup",
          "[subgroup][equivariance]") {
  const std::vector<std::pair<Group, Group>> pairs = {{Group::dihedral(8), Group::cyclic(8)},
                                                      {Group::cyclic(8), Group::c4()},
                                                      {Group::d4(), Group::d2()},
                                                      {Group::dihedral(8), Group::d4()},
                                                      {Group::cyclic(8), Group::c2()},
                                                      {Group::d4(), Group::d4()}};
  for (const auto& [g, h] : pairs) {
    eqnn::RestrictFields restrict(eqnn::RestrictFieldsOptions(g, h).num_fields(2));
    // the gather is a permutation of the group axis; the identity when H = G
    std::vector<int64_t> sorted = restrict->source();
    std::sort(sorted.begin(), sorted.end());
    for (int64_t t = 0; t < g.order(); ++t)
      CHECK(sorted[t] == t);
    if (g == h)
      for (int64_t t = 0; t < g.order(); ++t)
        CHECK(restrict->source()[t] == t);
    for (const auto dtype : eqnn_test::float_types()) {
      for (const int64_t size : {7, 8}) {
        INFO(g.name() << " -> " << h.name() << " " << c10::toString(dtype) << " size " << size);
        const torch::Tensor x = eqnn_test::randn({2, 2 * g.order(), size, size}, dtype, 5);
        const torch::Tensor y = restrict->forward(x);
        CHECK(y.size(1) == 2 * g.order());
        CHECK(restrict->out_type().num_fields == 2 * g.order() / h.order());
        const auto report = eqnn::check_equivariance(restrict, x);
        INFO(report.str());
        CHECK(report.group == h);
        CHECK(report.elements.size() == static_cast<size_t>(h.order()));
        CHECK(report.passed());
        torch::nn::Sequential exported = restrict->export_module();
        exported->to(dtype);
        CHECK(torch::equal(exported->forward(x), y));
        if (g.has_mirrors() && !h.has_mirrors() && g.rotations() == h.rotations()) {
          for (const auto mode : {eqnn::PoolMode::Max, eqnn::PoolMode::Mean}) {
            eqnn::CosetPool pool(eqnn::CosetPoolOptions(g).mode(mode).num_fields(2));
            const torch::Tensor p = pool->forward(x);
            CHECK(p.size(1) == 2 * h.order());
            REQUIRE_EQUIVARIANT(pool, x);
            torch::nn::Sequential exported_pool = pool->export_module();
            exported_pool->to(dtype);
            CHECK(eqnn_test::max_abs_diff(exported_pool->forward(x), p) <
                  (dtype == torch::kDouble ? 1e-15 : 1e-6));
            // each output channel pools R^r and R^r M of its field
            const int64_t r = 3;
            const torch::Tensor a = x.select(1, r), b = x.select(1, g.compose(r, g.rotations()));
            CHECK(torch::equal(p.select(1, r),
                               mode == eqnn::PoolMode::Max ? torch::maximum(a, b) : (a + b) * 0.5));
          }
        }
      }
    }
  }
  CHECK_THROWS_WITH(
      eqnn::RestrictFields(eqnn::RestrictFieldsOptions(Group::cyclic(8), Group::d1())),
      Catch::Contains("eqnn::RestrictFields: D1 is not a subgroup of C8"));
  CHECK_THROWS_WITH(eqnn::CosetPool(Group::cyclic(8)),
                    Catch::Contains("eqnn::CosetPool: pools over mirror cosets"));
  eqnn::RestrictFields restrict(eqnn::RestrictFieldsOptions(Group::d4(), Group::c4()));
  CHECK_THROWS_WITH(restrict->forward(torch::zeros({1, 6, 4, 4})),
                    Catch::Contains("eqnn::RestrictFields"));
}

TEST_CASE("a network that restricts D8 to C8 halfway is equivariant stage by stage",
          "[subgroup][equivariance][network]") {
  const Group d8 = Group::dihedral(8), c8 = Group::cyclic(8);
  for (const auto dtype : eqnn_test::float_types()) {
    for (const int64_t size : {9, 8}) {
      INFO(c10::toString(dtype) << " size " << size);
      torch::nn::Sequential net(
          eqnn::LiftingConv2d(eqnn::LiftingConv2dOptions(d8, 1, 2, 3).padding(1)),
          torch::nn::ReLU(), eqnn::RestrictFields(eqnn::RestrictFieldsOptions(d8, c8)),
          eqnn::GroupConv2d(eqnn::GroupConv2dOptions(c8, 4, 2, 3).padding(1)), torch::nn::ReLU(),
          eqnn::GroupPool(c8),
          eqnn::GlobalAvgPool2d(
              eqnn::GlobalAvgPool2dOptions(eqnn::FieldType::trivial(c8)).flatten(true)));
      net->to(dtype);
      const torch::Tensor x = eqnn_test::randn({2, 1, size, size}, dtype, 9);
      for (const auto& stage : eqnn::check_equivariance_per_stage(net, x)) {
        INFO(stage.name << "\n" << stage.report.str());
        CHECK(stage.report.passed());
        CHECK(stage.report.group ==
              (stage.name.rfind("0:", 0) == 0 || stage.name.rfind("1:", 0) == 0 ? d8 : c8));
      }
    }
  }
}

TEST_CASE("Upsample2d is equivariant on every field type and matches its export",
          "[upsample][equivariance]") {
  for (const Group& g : {Group::d4(), Group::c4(), Group::cyclic(8)}) {
    for (const auto mode : {eqnn::UpsampleMode::Nearest, eqnn::UpsampleMode::Bilinear}) {
      for (const auto dtype : eqnn_test::float_types()) {
        for (const int64_t size : {5, 6}) {
          INFO(g.name() << " size " << size << " " << c10::toString(dtype)
                        << (mode == eqnn::UpsampleMode::Nearest ? " nearest" : " bilinear"));
          eqnn::Upsample2d up(eqnn::Upsample2dOptions(eqnn::FieldType::regular(g), 2).mode(mode));
          const torch::Tensor x = eqnn_test::randn({2, 2 * g.order(), size, size}, dtype, 4);
          const torch::Tensor y = up->forward(x);
          CHECK(y.sizes() == torch::IntArrayRef({2, 2 * g.order(), 2 * size, 2 * size}));
          REQUIRE_EQUIVARIANT(up, x);
          CHECK(torch::equal(up->export_module()->forward(x), y));
        }
      }
    }
  }
  CHECK_THROWS_WITH(
      eqnn::Upsample2d(eqnn::Upsample2dOptions(eqnn::FieldType::regular(Group::d4()), 0)),
      Catch::Contains("eqnn::Upsample2d: scale_factor must be >= 1, got 0"));
}

TEST_CASE("GroupConvTranspose2d is equivariant for any input size and matches its export",
          "[conv][transpose][equivariance]") {
  for (const Group& g : {Group::d4(), Group::c4(), Group::cyclic(8), Group::dihedral(8)}) {
    for (const auto dtype : eqnn_test::float_types()) {
      for (const auto& [k, stride, padding] :
           {std::make_tuple(int64_t{4}, int64_t{2}, int64_t{1}),
            std::make_tuple(int64_t{3}, int64_t{2}, int64_t{1}),
            std::make_tuple(int64_t{3}, int64_t{1}, int64_t{1})}) {
        for (const int64_t size : {5, 6}) {
          INFO(g.name() << " " << c10::toString(dtype) << " k=" << k << " stride=" << stride
                        << " padding=" << padding << " size=" << size);
          eqnn::GroupConvTranspose2d up(
              eqnn::GroupConvTranspose2dOptions(g, 2, 3, k).stride(stride).padding(padding));
          up->to(dtype);
          {
            torch::NoGradGuard no_grad;
            up->bias.normal_();
          }
          const torch::Tensor x = eqnn_test::randn({2, 2 * g.order(), size, size}, dtype, 6);
          const torch::Tensor y = up->forward(x);
          const int64_t out = (size - 1) * stride - 2 * padding + k;
          CHECK(y.sizes() == torch::IntArrayRef({2, 3 * g.order(), out, out}));
          REQUIRE_EQUIVARIANT(up, x);
          CHECK(eqnn_test::max_abs_diff(up->export_module()->forward(x), y) <
                (dtype == torch::kDouble ? 1e-12 : 1e-5));
          // it is the adjoint of the convolution that holds its filters: <conv(z), x> = <z, up(x)>
          if (dtype == torch::kDouble && stride == 1) {
            eqnn::GroupConvTranspose2d nobias(
                eqnn::GroupConvTranspose2dOptions(g, 2, 3, k).padding(padding).bias(false));
            nobias->to(dtype);
            const torch::Tensor z = eqnn_test::randn({2, 3 * g.order(), out, out}, dtype, 8);
            const torch::Tensor lhs =
                (torch::conv2d(z, nobias->adjoint->expanded_weight(), {}, 1, padding) * x).sum();
            const torch::Tensor rhs = (z * nobias->forward(x)).sum();
            CHECK(lhs.item<double>() == Approx(rhs.item<double>()).epsilon(1e-10));
          }
        }
      }
    }
  }
  CHECK_THROWS_WITH(
      eqnn::GroupConvTranspose2d(eqnn::GroupConvTranspose2dOptions(Group::c4(), 1, 1, 3))
          ->forward(torch::zeros({1, 4, 4, 5})),
      Catch::Contains("eqnn::GroupConvTranspose2d: C4 rotates by 90 degrees"));
}
