// The filter-expansion kernels: the per-thread bodies the CUDA kernels run (executed here through a
// CPU launch loop), the production CPU path, and the ATen composition they replace must agree
// exactly; the backward body must be the adjoint of the forward gather.
#include <catch2/catch.hpp>

#include "../src/ops/expand_parameters.h"
#include "eqnn/detail/cpu_launch.h"
#include "eqnn/detail/expand_filter_kernel.h"
#include "support.h"

using eqnn::Group;
using eqnn::detail::ExpandFilterParams;

namespace {

template <typename scalar_t>
torch::Tensor run_forward_body(const torch::Tensor& w, const ExpandFilterParams& p, int64_t grid,
                               int64_t block) {
  torch::Tensor out = torch::full({p.expanded_numel()}, -1.0, w.options());
  const scalar_t* src = w.data_ptr<scalar_t>();
  scalar_t* dst = out.data_ptr<scalar_t>();
  eqnn::detail::cpu_launch(grid, block, [&](int64_t b, int64_t bd, int64_t t, int64_t gd) {
    eqnn::detail::expand_filter_forward_thread<scalar_t>(p, src, dst, b, bd, t, gd);
  });
  return out;
}

template <typename scalar_t>
torch::Tensor run_backward_body(const torch::Tensor& g, const ExpandFilterParams& p, int64_t grid,
                                int64_t block) {
  torch::Tensor out = torch::full({p.base_numel()}, -1.0, g.options());
  const scalar_t* src = g.data_ptr<scalar_t>();
  scalar_t* dst = out.data_ptr<scalar_t>();
  eqnn::detail::cpu_launch(grid, block, [&](int64_t b, int64_t bd, int64_t t, int64_t gd) {
    eqnn::detail::expand_filter_backward_thread<scalar_t, scalar_t>(p, src, dst, b, bd, t, gd);
  });
  return out;
}

}  // namespace

TEST_CASE("filter expansion: CUDA thread bodies, CPU path and ATen composition agree", "[kernel]") {
  for (const Group& g : Group::all()) {
    for (const bool lifting : {true, false}) {
      for (const int64_t k : {1, 2, 3, 4}) {
        INFO(g.name() << (lifting ? " lifting" : " group") << " k=" << k);
        const int64_t in_order = lifting ? 1 : g.order();
        std::vector<int64_t> shape = {3, 2};
        if (!lifting) shape.push_back(g.order());
        shape.push_back(k);
        shape.push_back(k);
        const torch::Tensor w = eqnn_test::randn(shape, torch::kDouble, 10 + k);
        const ExpandFilterParams p{g.tables(), 3, 2, in_order, k};

        const torch::Tensor oracle = eqnn_test::expand_filter_aten(w, g);
        const torch::Tensor cpu =
            lifting ? eqnn::ops::expand_lifting_filter(w, g) : eqnn::ops::expand_group_filter(w, g);
        REQUIRE(cpu.sizes() == oracle.sizes());
        CHECK(torch::equal(cpu, oracle));
        // a grid smaller than the problem exercises the grid-stride loop, a large one idle threads
        for (const auto& [grid, block] :
             {std::make_pair(int64_t{2}, int64_t{7}), std::make_pair(int64_t{64}, int64_t{32})}) {
          CHECK(torch::equal(run_forward_body<double>(w, p, grid, block), oracle.flatten()));
        }

        // backward: <expand(w), g> == <w, expand^T(g)> for random g, and it equals autograd through
        // the ATen composition.
        const torch::Tensor grad = eqnn_test::randn(oracle.sizes().vec(), torch::kDouble, 99);
        const torch::Tensor body_grad =
            run_backward_body<double>(grad.flatten(), p, 3, 5).view(shape);
        const torch::Tensor w_leaf = w.clone().requires_grad_(true);
        eqnn_test::expand_filter_aten(w_leaf, g).backward(grad);
        CHECK(eqnn_test::max_abs_diff(body_grad, w_leaf.grad()) < 1e-12);
        const torch::Tensor w_leaf2 = w.clone().requires_grad_(true);
        (lifting ? eqnn::ops::expand_lifting_filter(w_leaf2, g)
                 : eqnn::ops::expand_group_filter(w_leaf2, g))
            .backward(grad);
        CHECK(torch::equal(w_leaf2.grad(), body_grad));
      }
    }
  }
}

TEST_CASE("filter expansion: the CPU rows split over threads give the bodies' bits", "[kernel]") {
  // banks large enough that the CPU paths split their rows into several parallel chunks
  for (const Group& g : {Group::d4(), Group::c4()}) {
    for (const bool lifting : {true, false}) {
      INFO(g.name() << (lifting ? " lifting" : " group"));
      const int64_t out = 16, in = 12, k = 5, in_order = lifting ? 1 : g.order();
      std::vector<int64_t> shape = {out, in};
      if (!lifting) shape.push_back(g.order());
      shape.push_back(k);
      shape.push_back(k);
      const torch::Tensor w = eqnn_test::randn(shape, torch::kFloat, 3);
      const ExpandFilterParams p{g.tables(), out, in, in_order, k};
      const torch::Tensor w_leaf = w.clone().requires_grad_(true);
      const torch::Tensor cpu = lifting ? eqnn::ops::expand_lifting_filter(w_leaf, g)
                                        : eqnn::ops::expand_group_filter(w_leaf, g);
      CHECK(torch::equal(cpu.flatten(), run_forward_body<float>(w, p, 4, 64)));
      const torch::Tensor grad = eqnn_test::randn(cpu.sizes().vec(), torch::kFloat, 4);
      cpu.backward(grad);
      CHECK(torch::equal(w_leaf.grad().flatten(),
                         run_backward_body<float>(grad.flatten(), p, 4, 64)));
    }
  }
}

TEST_CASE("filter expansion supports float32, float16 and bfloat16 exactly", "[kernel]") {
  const Group g = Group::d4();
  for (const auto dtype : {torch::kFloat, torch::kHalf, torch::kBFloat16}) {
    INFO(c10::toString(dtype));
    const torch::Tensor w = eqnn_test::randn({2, 3, 8, 3, 3}, torch::kFloat, 5).to(dtype);
    const torch::Tensor expanded = eqnn::ops::expand_group_filter(w, g);
    CHECK(expanded.scalar_type() == dtype);
    CHECK(torch::equal(expanded, eqnn_test::expand_filter_aten(w, g)));
    // repeated runs give identical bits (deterministic gather)
    CHECK(torch::equal(expanded, eqnn::ops::expand_group_filter(w, g)));
  }
}

TEST_CASE("CUDA kernels match their CPU twins", "[cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("No CUDA device: skipping the CUDA kernel comparison");
    return;
  }
  for (const Group& g : Group::all()) {
    INFO(g.name());
    const torch::Tensor w = eqnn_test::randn({4, 3, g.order(), 3, 3}, torch::kFloat, 7);
    const torch::Tensor cpu = eqnn::ops::expand_group_filter(w, g);
    const torch::Tensor w_cuda = w.to(torch::kCUDA).requires_grad_(true);
    const torch::Tensor gpu = eqnn::ops::expand_group_filter(w_cuda, g);
    CHECK(torch::equal(gpu.cpu(), cpu));
    const torch::Tensor grad = torch::randn_like(cpu);
    gpu.backward(grad.to(torch::kCUDA));
    const torch::Tensor w_cpu = w.clone().requires_grad_(true);
    eqnn::ops::expand_group_filter(w_cpu, g).backward(grad);
    CHECK(eqnn_test::max_abs_diff(w_cuda.grad().cpu(), w_cpu.grad()) < 1e-5);
  }
}

TEST_CASE("bias expansion repeats each field's bias |G| times and sums the gradients back",
          "[kernel]") {
  for (const Group& g : {Group::c4(), Group::d4(), Group::cyclic(8)}) {
    INFO(g.name());
    const torch::Tensor b = eqnn_test::randn({5}, torch::kDouble, 7).requires_grad_(true);
    const torch::Tensor expanded = eqnn::ops::expand_bias(b, g);
    const torch::Tensor oracle = b.detach().repeat_interleave(g.order());
    CHECK(torch::equal(expanded, oracle));
    const torch::Tensor grad = eqnn_test::randn({5 * g.order()}, torch::kDouble, 8);
    expanded.backward(grad);
    CHECK(torch::allclose(b.grad(), grad.view({5, g.order()}).sum(1), 0, 1e-15));
    const torch::Tensor param = b.detach().clone().requires_grad_(true);
    CHECK(eqnn_test::max_gradient_error(
              param, [&] { return eqnn::ops::expand_bias(param, g); }, grad) < 1e-7);
  }
}

TEST_CASE("the layers' fused weight-and-bias expansion is the two expansions bit for bit",
          "[kernel]") {
  for (const Group& g : {Group::c2(), Group::c4(), Group::d2(), Group::d4()})
    for (const bool lifting : {true, false})
      for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kBFloat16}) {
        INFO(g.name() << (lifting ? " lifting " : " group ") << dtype);
        const std::vector<int64_t> shape = lifting ? std::vector<int64_t>{3, 2, 5, 5}
                                                   : std::vector<int64_t>{3, 2, g.order(), 3, 3};
        const torch::Tensor w0 = eqnn_test::randn(shape, torch::kFloat, 21).to(dtype);
        const torch::Tensor b0 = eqnn_test::randn({3}, torch::kFloat, 22).to(dtype);
        const torch::Tensor w1 = w0.clone().requires_grad_(true),
                            b1 = b0.clone().requires_grad_(true);
        const torch::Tensor w2 = w0.clone().requires_grad_(true),
                            b2 = b0.clone().requires_grad_(true);
        const auto fused = eqnn::ops::internal::expand_filter_and_bias(w1, b1, g);
        const torch::Tensor ew = lifting ? eqnn::ops::expand_lifting_filter(w2, g)
                                         : eqnn::ops::expand_group_filter(w2, g);
        const torch::Tensor eb = eqnn::ops::expand_bias(b2, g);
        CHECK(torch::equal(fused.first, ew));
        CHECK(torch::equal(fused.second, eb));
        const torch::Tensor gw = eqnn_test::randn(ew.sizes().vec(), torch::kFloat, 23).to(dtype);
        const torch::Tensor gb = eqnn_test::randn({eb.size(0)}, torch::kFloat, 24).to(dtype);
        torch::autograd::backward({fused.first, fused.second}, {gw, gb});
        torch::autograd::backward({ew, eb}, {gw, gb});
        CHECK(torch::equal(w1.grad(), w2.grad()));
        CHECK(torch::equal(b1.grad(), b2.grad()));
        // only one of the two outputs used: the other input gets no gradient
        const torch::Tensor w3 = w0.clone().requires_grad_(true),
                            b3 = b0.clone().requires_grad_(true);
        eqnn::ops::internal::expand_filter_and_bias(w3, b3, g).second.backward(gb);
        CHECK(torch::equal(b3.grad(), b2.grad()));
        CHECK((!w3.grad().defined() || torch::equal(w3.grad(), torch::zeros_like(w0))));
      }
  const torch::Tensor w = torch::zeros({2, 1, 3, 3});
  CHECK_THROWS_WITH(eqnn::ops::internal::expand_filter_and_bias(w, torch::Tensor(), Group::c4()),
                    Catch::Contains("expected a 1-D bias"));
  CHECK_THROWS_WITH(eqnn::ops::internal::expand_filter_and_bias(torch::zeros({2, 3}),
                                                                torch::zeros({2}), Group::c4()),
                    Catch::Contains("expected a 4-D (lifting) or 5-D (group) weight, got [2, 3]"));
}

TEST_CASE("the steerable layers' fused filter-and-bias expansion is the two expansions bit for bit",
          "[kernel][steerable]") {
  for (const Group& g : {Group::cyclic(8), Group::dihedral(8)})
    for (const auto dtype : {torch::kFloat, torch::kDouble}) {
      INFO(g.name() << " " << dtype);
      eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, 2, 3, 5).padding(2));
      conv->to(dtype);
      const torch::Tensor basis = conv->basis.to(dtype);
      const torch::Tensor c1 = conv->weight.detach().clone().requires_grad_(true);
      const torch::Tensor c2 = c1.detach().clone().requires_grad_(true);
      const torch::Tensor b1 = conv->bias.detach().clone().requires_grad_(true);
      const torch::Tensor b2 = b1.detach().clone().requires_grad_(true);
      const auto fused = eqnn::ops::internal::expand_steerable_filter_and_bias(c1, basis, b1, g);
      const torch::Tensor ew = eqnn::ops::expand_steerable_filter(c2, basis, g);
      const torch::Tensor eb = eqnn::ops::expand_bias(b2, g);
      CHECK(torch::equal(fused.first, ew));
      CHECK(torch::equal(fused.second, eb));
      const torch::Tensor gw = eqnn_test::randn(ew.sizes().vec(), dtype, 31);
      const torch::Tensor gb = eqnn_test::randn({eb.size(0)}, dtype, 32);
      torch::autograd::backward({fused.first, fused.second}, {gw, gb});
      torch::autograd::backward({ew, eb}, {gw, gb});
      CHECK(torch::equal(c1.grad(), c2.grad()));
      CHECK(torch::equal(b1.grad(), b2.grad()));
    }
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(Group::cyclic(8), 1, 1, 3));
  CHECK_THROWS_WITH(
      eqnn::ops::internal::expand_steerable_filter_and_bias(
          conv->weight, conv->basis.to(torch::kFloat), torch::zeros({2, 2}), Group::cyclic(8)),
      Catch::Contains("expected a 1-D bias, got [2, 2]"));
}
