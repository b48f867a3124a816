// Every layer x every group x float32/float64 x odd/even input sizes, checked on every element.
#include <catch2/catch.hpp>

#include "eqnn/testing/catch2.h"
#include "support.h"

using eqnn::Group;

namespace {

/// Input sizes to test and, for each, a (kernel, stride, padding) whose sampling grid is symmetric.
struct Geometry {
  int64_t size, kernel, stride, padding;
};

const std::vector<Geometry> kConvGeometries = {
    {9, 3, 1, 1},   // odd input, odd kernel
    {8, 3, 1, 1},   // even input
    {8, 2, 1, 0},   // even kernel
    {7, 2, 1, 1},   // even kernel, odd input
    {9, 3, 2, 1},   // stride 2: (9 + 2 - 3) % 2 == 0
    {8, 2, 2, 0},   // stride 2 on an even input
    {11, 3, 2, 0},  // stride 2, no padding
};

bool symmetric(const Geometry& g) {
  return (g.size + 2 * g.padding - g.kernel) % g.stride == 0;
}

}  // namespace

TEST_CASE("LiftingConv2d and GroupConv2d are equivariant", "[equivariance][conv]") {
  int checked = 0;
  // the grid groups (pixel filters) and C8, D8 (steerable filters, judged on the grid elements)
  std::vector<Group> groups = Group::all();
  groups.push_back(Group::cyclic(8));
  groups.push_back(Group::dihedral(8));
  for (const Group& g : groups) {
    for (const auto dtype : eqnn_test::float_types()) {
      for (const Geometry& geo : kConvGeometries) {
        if (!symmetric(geo)) continue;
        INFO(g.name() << " " << c10::toString(dtype) << " size=" << geo.size << " k=" << geo.kernel
                      << " stride=" << geo.stride << " padding=" << geo.padding);
        eqnn::LiftingConv2d lift(eqnn::LiftingConv2dOptions(g, 3, 4, geo.kernel)
                                     .stride(geo.stride)
                                     .padding(geo.padding));
        lift->to(dtype);
        REQUIRE_EQUIVARIANT(lift, eqnn_test::randn({2, 3, geo.size, geo.size}, dtype, 1));
        eqnn::GroupConv2d conv(
            eqnn::GroupConv2dOptions(g, 3, 4, geo.kernel)
                .stride(geo.stride)
                .padding(geo.padding)
                .padding_mode(geo.padding ? eqnn::PaddingMode::Reflect : eqnn::PaddingMode::Zeros));
        conv->to(dtype);
        REQUIRE_EQUIVARIANT(conv,
                            eqnn_test::randn({2, 3 * g.order(), geo.size, geo.size}, dtype, 2));
        ++checked;
      }
    }
  }
  CHECK(checked == 8 * 2 * 7);
}

TEST_CASE("GroupPool, GroupBatchNorm2d and spatial pooling are equivariant",
          "[equivariance][pool]") {
  // the grid groups on every element; C3, C8 and D8 on their elements on the grid (the others
  // interpolate the plane: measured in steerable_test.cpp)
  std::vector<Group> groups = Group::all();
  for (const Group& g : {Group::cyclic(3), Group::cyclic(8), Group::dihedral(8)})
    groups.push_back(g);
  for (const Group& g : groups) {
    for (const auto dtype : eqnn_test::float_types()) {
      for (const int64_t size : {7, 8}) {
        INFO(g.name() << " " << c10::toString(dtype) << " size=" << size);
        const torch::Tensor x = eqnn_test::randn({3, 2 * g.order(), size, size}, dtype, 3);

        for (const auto mode : {eqnn::PoolMode::Max, eqnn::PoolMode::Mean}) {
          eqnn::GroupPool pool(eqnn::GroupPoolOptions(g).mode(mode));
          REQUIRE_EQUIVARIANT(pool, x);
          CHECK(pool->forward(x).size(1) == 2);
          // odd sizes: 3x3 windows, stride 2, padding 1; even sizes: 2x2 windows, stride 2
          const int64_t k = size % 2 ? 3 : 2;
          eqnn::SpatialPool2d spatial(
              eqnn::SpatialPool2dOptions(g, k).mode(mode).stride(2).padding(size % 2));
          REQUIRE_EQUIVARIANT(spatial, x);
          // antialiased: either 3x3 blur before the windows keeps it exact on the grid
          std::vector<torch::Tensor> blurred;
          for (const auto blur : {eqnn::Blur::Binomial, eqnn::Blur::Box}) {
            eqnn::SpatialPool2d antialiased(eqnn::SpatialPool2dOptions(g, k)
                                                .mode(mode)
                                                .stride(2)
                                                .padding(size % 2)
                                                .antialias(true)
                                                .blur(blur));
            REQUIRE_EQUIVARIANT(antialiased, x);
            CHECK(eqnn_test::max_abs_diff(antialiased->forward(x), spatial->forward(x)) > 1e-3);
            blurred.push_back(antialiased->forward(x));
          }
          CHECK(eqnn_test::max_abs_diff(blurred[0], blurred[1]) > 1e-3);  // two filters
          // trivial fields, e.g. after GroupPool
          eqnn::SpatialPool2d spatial_trivial(
              eqnn::SpatialPool2dOptions(eqnn::FieldType::trivial(g), k)
                  .mode(mode)
                  .stride(2)
                  .padding(size % 2));
          REQUIRE_EQUIVARIANT(spatial_trivial, pool->forward(x));
        }
        eqnn::GlobalAvgPool2d global(g);
        REQUIRE_EQUIVARIANT(global, x);
        eqnn::GlobalAvgPool2d global_flat(eqnn::GlobalAvgPool2dOptions(g).flatten(true));
        REQUIRE_EQUIVARIANT(global_flat, x);

        eqnn::GroupBatchNorm2d bn(g, 2);
        bn->to(dtype);
        {
          torch::NoGradGuard no_grad;
          bn->weight.uniform_(0.5, 1.5);
          bn->bias.normal_();
        }
        REQUIRE_EQUIVARIANT(bn, x);  // training mode: batch statistics
        bn->eval();
        {
          torch::NoGradGuard no_grad;
          bn->running_mean.normal_();
          bn->running_var.uniform_(0.5, 2.0);
        }
        REQUIRE_EQUIVARIANT(bn, x);  // eval mode: running statistics
      }
    }
  }
}

TEST_CASE("a non-equivariant layer is caught, naming the worst element", "[equivariance][check]") {
  // Sanity check of the check itself: a GroupConv2d whose filter bank is perturbed off the orbit.
  const Group g = Group::c4();
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, 1, 1, 3).padding(1));
  conv->to(torch::kDouble);
  auto impl = conv.ptr();
  auto broken = [impl](const torch::Tensor& x) {
    torch::Tensor tw = impl->expanded_weight().clone();
    tw[1] += 0.1;  // output channel for element R only
    return torch::conv2d(x, tw, impl->expanded_bias(), 1, 1);
  };
  const torch::Tensor x = eqnn_test::randn({1, 4, 9, 9}, torch::kDouble, 4);
  const auto report = eqnn::check_equivariance(broken, impl->in_type(), impl->out_type(), x);
  CHECK_FALSE(report.passed());
  CHECK(report.elements.size() == 4);
  CHECK(report.elements[0].error == 0);  // the identity always commutes
  CHECK(report.max_error() > 1e-3);
  CHECK(report.str().find("FAIL") == 0);
}
