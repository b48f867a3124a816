// The group pooling and group action kernels: equal to the ATen compositions they replace
// (exactly), in every dtype and memory format, through the CPU path, the CUDA thread bodies (CPU
// launch loop) and the dispatcher/TorchScript; backward passes are the exact adjoints; results are
// deterministic.
#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/script.h>
#include <catch2/catch.hpp>

#include "eqnn/detail/cpu_launch.h"
#include "eqnn/detail/group_action_kernel.h"
#include "eqnn/detail/group_pool_kernel.h"
#include "support.h"

using Catch::Contains;
using eqnn::FieldKind;
using eqnn::Group;
using eqnn::PoolMode;

namespace {

const std::vector<torch::ScalarType> kAllTypes = {torch::kFloat, torch::kDouble, torch::kHalf,
                                                  torch::kBFloat16};

torch::Tensor group_pool_aten(const torch::Tensor& x, int64_t order, PoolMode mode) {
  const torch::Tensor g = x.reshape({x.size(0), x.size(1) / order, order, x.size(2), x.size(3)});
  return mode == PoolMode::Max ? std::get<0>(g.max(2))
                               : g.to(torch::kDouble).mean(2).to(x.scalar_type());
}

/// The entries of a dense 4-D tensor in memory order (NCHW or channels_last).
torch::Tensor memory_order(const torch::Tensor& t, bool channels_last) {
  return channels_last ? t.permute({0, 2, 3, 1}).reshape(-1) : t.reshape(-1);
}

bool is_channels_last(const torch::Tensor& t) {
  return t.is_contiguous(torch::MemoryFormat::ChannelsLast) && !t.is_contiguous();
}

}  // namespace

TEST_CASE("group_pool equals the ATen reduction in every dtype and memory format", "[ops][pool]") {
  for (const Group& g : Group::all()) {
    for (const auto dtype : kAllTypes) {
      for (const bool channels_last : {false, true}) {
        INFO(g.name() << " " << c10::toString(dtype)
                      << (channels_last ? " channels_last" : " NCHW"));
        torch::Tensor x = eqnn_test::randn({2, 3 * g.order(), 5, 4}, torch::kFloat, 1).to(dtype);
        if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
        for (const PoolMode mode : {PoolMode::Max, PoolMode::Mean}) {
          const torch::Tensor y = eqnn::ops::group_pool(x, g, mode);
          CHECK(y.scalar_type() == dtype);
          CHECK(y.sizes() == torch::IntArrayRef({2, 3, 5, 4}));
          CHECK(is_channels_last(y) == channels_last);  // the format is kept
          const torch::Tensor expected = group_pool_aten(x, g.order(), mode);
          if (mode == PoolMode::Max || dtype == torch::kDouble) {
            CHECK(torch::equal(y, expected));
          } else {
            CHECK(eqnn_test::max_abs_diff(y, expected) <= (dtype == torch::kFloat ? 1e-6 : 1e-2));
          }
          CHECK(torch::equal(y, eqnn::ops::group_pool(x, g, mode)));  // deterministic
        }
      }
    }
  }
}

TEST_CASE("group_pool backward routes gradients like ATen and matches finite differences",
          "[ops][pool][gradient]") {
  const Group g = Group::d4();
  for (const bool channels_last : {false, true}) {
    for (const PoolMode mode : {PoolMode::Max, PoolMode::Mean}) {
      INFO((channels_last ? "channels_last " : "NCHW ") << eqnn::to_string(mode));
      torch::Tensor x = eqnn_test::randn({2, 16, 3, 3}, torch::kDouble, 2);
      if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
      x.requires_grad_(true);
      const torch::Tensor probe = eqnn_test::randn({2, 2, 3, 3}, torch::kDouble, 3);
      (eqnn::ops::group_pool(x, g, mode) * probe).sum().backward();
      const torch::Tensor ours = x.grad().clone();
      x.mutable_grad() = torch::Tensor();
      (group_pool_aten(x, g.order(), mode) * probe).sum().backward();
      CHECK(torch::allclose(ours, x.grad(), 0, 1e-15));
      CHECK(eqnn_test::max_gradient_error(
                x, [&] { return eqnn::ops::group_pool(x, g, mode); }, probe) < 1e-7);
    }
  }
}

TEST_CASE("group pool thread bodies (the CUDA code) equal the CPU path", "[ops][pool][kernel]") {
  const Group g = Group::c4();
  for (const bool channels_last : {false, true}) {
    torch::Tensor x = eqnn_test::randn({2, 12, 3, 5}, torch::kFloat, 4);
    if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    const eqnn::detail::GroupPoolParams p{2, 3, 4, 15, channels_last};
    torch::Tensor y = torch::full({p.out_numel()}, -7.0f), y_mean = y.clone();
    torch::Tensor argmax = torch::zeros({p.out_numel()}, torch::kByte);
    eqnn::detail::cpu_launch(3, 7, [&](int64_t b, int64_t bd, int64_t t, int64_t gd) {
      eqnn::detail::group_pool_max_thread<float, float>(p, x.data_ptr<float>(), y.data_ptr<float>(),
                                                        argmax.data_ptr<uint8_t>(), b, bd, t, gd);
      eqnn::detail::group_pool_mean_thread<float, float>(p, x.data_ptr<float>(),
                                                         y_mean.data_ptr<float>(), b, bd, t, gd);
    });
    CHECK(torch::equal(y, memory_order(eqnn::ops::group_pool(x, g, PoolMode::Max), channels_last)));
    CHECK(torch::equal(y_mean,
                       memory_order(eqnn::ops::group_pool(x, g, PoolMode::Mean), channels_last)));
    // backward body: gradient lands on the argmax
    const torch::Tensor gy = eqnn_test::randn({p.out_numel()}, torch::kFloat, 5);
    torch::Tensor gx = torch::full({p.in_numel()}, -7.0f);
    eqnn::detail::cpu_launch(2, 5, [&](int64_t b, int64_t bd, int64_t t, int64_t gd) {
      eqnn::detail::group_pool_max_backward_thread<float>(
          p, gy.data_ptr<float>(), argmax.data_ptr<uint8_t>(), gx.data_ptr<float>(), b, bd, t, gd);
    });
    CHECK(gx.sum().item<float>() == Approx(gy.sum().item<float>()));
    CHECK((gx != 0).sum().item<int64_t>() == p.out_numel());
  }
}

TEST_CASE("group_action equals the ATen composition for every element, dtype and format",
          "[ops][action]") {
  for (const Group& g : Group::all()) {
    std::vector<int64_t> all(g.order());
    for (int64_t t = 0; t < g.order(); ++t)
      all[t] = t;
    for (const auto dtype : kAllTypes) {
      for (const bool channels_last : {false, true}) {
        for (const int64_t size : {5, 6}) {
          INFO(g.name() << " " << c10::toString(dtype)
                        << (channels_last ? " channels_last" : " NCHW") << " size " << size);
          torch::Tensor x =
              eqnn_test::randn({2, 2 * g.order(), size, size}, torch::kFloat, 6).to(dtype);
          if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
          for (const FieldKind kind : {FieldKind::Regular, FieldKind::Trivial}) {
            const torch::Tensor y = eqnn::ops::group_action(x, g, all, kind);
            CHECK(y.size(0) == 2 * g.order());
            CHECK(is_channels_last(y) == channels_last);
            CHECK(torch::equal(y, eqnn_test::group_action_aten(x, g, all, kind)));
          }
        }
      }
    }
    // features without a plane, (B, C); a repeated and reordered element list
    const torch::Tensor flat = eqnn_test::randn({3, 2 * g.order()}, torch::kDouble, 7);
    const std::vector<int64_t> some = {g.order() - 1, 0, g.order() - 1};
    CHECK(torch::equal(eqnn::ops::group_action(flat, g, some, FieldKind::Regular),
                       eqnn_test::group_action_aten(flat, g, some, FieldKind::Regular)));
  }
  // rectangles are fine without quarter turns, refused with them
  const torch::Tensor rect = torch::randn({2, 8, 3, 5});
  for (const bool channels_last : {false, true}) {
    const torch::Tensor r =
        channels_last ? rect.contiguous(torch::MemoryFormat::ChannelsLast) : rect;
    for (const FieldKind kind : {FieldKind::Regular, FieldKind::Trivial})
      CHECK(torch::equal(eqnn::ops::group_action(r, Group::d2(), {0, 1, 2, 3}, kind),
                         eqnn_test::group_action_aten(rect, Group::d2(), {0, 1, 2, 3}, kind)));
  }
  CHECK_THROWS_WITH(eqnn::ops::group_action(rect, Group::c4(), {1}, FieldKind::Regular),
                    Catch::Contains("needs a square plane, got 3x5"));
  CHECK_THROWS_WITH(eqnn::ops::group_action(rect, Group::c4(), {4}, FieldKind::Regular),
                    Catch::Contains("element index 4 is out of range for C4"));
}

TEST_CASE("group_action backward is the adjoint, and thread bodies equal the CPU path",
          "[ops][action][gradient]") {
  const Group g = Group::d4();
  const std::vector<int64_t> elements = {1, 4, 6, 7};
  for (const bool channels_last : {false, true}) {
    torch::Tensor x = eqnn_test::randn({2, 16, 4, 4}, torch::kDouble, 8);
    if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    x.requires_grad_(true);
    const torch::Tensor y = eqnn::ops::group_action(x, g, elements, FieldKind::Regular);
    const torch::Tensor probe = eqnn_test::randn(y.sizes().vec(), torch::kDouble, 9);
    (y * probe).sum().backward();
    // <A x, p> = <x, A^T p>
    CHECK((y * probe).sum().item<double>() ==
          Approx((x * x.grad()).sum().item<double>()).epsilon(1e-12));
    const torch::Tensor ours = x.grad().clone();
    x.mutable_grad() = torch::Tensor();
    (eqnn_test::group_action_aten(x, g, elements, FieldKind::Regular) * probe).sum().backward();
    CHECK(torch::allclose(ours, x.grad(), 0, 1e-15));

    // the CUDA thread bodies through the CPU launch loop
    const torch::Tensor xd = x.detach();
    eqnn::detail::GroupActionParams p{};
    p.group = g.tables();
    p.num_elements = 4;
    for (int k = 0; k < 4; ++k)
      p.elements[k] = static_cast<int8_t>(elements[k]);
    p.regular = true;
    p.channels_last = channels_last;
    p.batch = 2;
    p.channels = 16;
    p.rows = p.cols = 4;
    torch::Tensor out = torch::full({p.out_numel()}, -1.0, torch::kDouble);
    eqnn::detail::cpu_launch(5, 3, [&](int64_t b, int64_t bd, int64_t t, int64_t gd) {
      eqnn::detail::group_action_thread<double>(p, xd.data_ptr<double>(), out.data_ptr<double>(), b,
                                                bd, t, gd);
    });
    CHECK(torch::equal(out, memory_order(y.detach(), channels_last)));
    const torch::Tensor probe_dense = memory_order(probe, channels_last);
    torch::Tensor grad = torch::full({p.in_numel()}, -1.0, torch::kDouble);
    eqnn::detail::cpu_launch(2, 9, [&](int64_t b, int64_t bd, int64_t t, int64_t gd) {
      eqnn::detail::group_action_backward_thread<double, double>(
          p, probe_dense.data_ptr<double>(), grad.data_ptr<double>(), b, bd, t, gd);
    });
    CHECK(torch::allclose(grad, memory_order(ours, channels_last), 0, 1e-15));
  }
}

TEST_CASE("the ops are registered with the dispatcher and callable from TorchScript",
          "[ops][jit]") {
  // TorchScript saved from Python spells these torch.ops.eqnn.*; a C++-compiled script resolves the
  // name "eqnn" to the operator namespace through a resolver.
  struct EqnnResolver : torch::jit::Resolver {
    std::shared_ptr<torch::jit::SugaredValue> resolveValue(
        const std::string& name, torch::jit::GraphFunction& fn,
        const torch::jit::SourceRange& loc) override {
      if (name == "eqnn") return std::make_shared<torch::jit::BuiltinModule>("eqnn");
      return torch::jit::nativeResolver()->resolveValue(name, fn, loc);
    }
    c10::TypePtr resolveType(const std::string&, const torch::jit::SourceRange&) override {
      return nullptr;
    }
  };
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  cu->define({}, R"JIT(
def pool(x: Tensor) -> Tensor:
    return eqnn.group_pool(x, 4, True)[0]

def act(x: Tensor) -> Tensor:
    return eqnn.group_action(x, "p4", [1, 3], True)

def expand(w: Tensor) -> Tensor:
    return eqnn.expand_filter(w, "c4", False)
)JIT",
             std::make_shared<EqnnResolver>(), nullptr);
  const torch::Tensor x = eqnn_test::randn({2, 8, 5, 5}, torch::kFloat, 10);
  const Group g = Group::c4();
  CHECK(torch::equal(cu->run_method("pool", x).toTensor(),
                     eqnn::ops::group_pool(x, g, PoolMode::Max)));
  CHECK(torch::equal(cu->run_method("act", x).toTensor(),
                     eqnn::ops::group_action(x, g, {1, 3}, FieldKind::Regular)));
  const torch::Tensor w = eqnn_test::randn({2, 3, 4, 3, 3}, torch::kFloat, 11);
  CHECK(torch::equal(cu->run_method("expand", w).toTensor(), eqnn::ops::expand_group_filter(w, g)));
}

TEST_CASE("the ops take empty tensors and validate the arguments of every pass themselves",
          "[ops][empty]") {
  using Shape = std::vector<int64_t>;
  const Group p4m = Group::d4();
  // Every op is callable on its own (TorchScript, the dispatcher), backward passes included.
  auto& dispatcher = c10::Dispatcher::singleton();
  auto action_backward =
      dispatcher.findSchemaOrThrow("eqnn::group_action_backward", "")
          .typed<at::Tensor(const at::Tensor&, c10::string_view, at::IntArrayRef, bool)>();
  auto pool_backward =
      dispatcher.findSchemaOrThrow("eqnn::group_pool_backward", "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, bool)>();
  auto expand_backward =
      dispatcher.findSchemaOrThrow("eqnn::expand_filter_backward", "")
          .typed<at::Tensor(const at::Tensor&, c10::string_view, at::IntArrayRef)>();

  SECTION("group_pool: an empty plane or batch, forward and backward") {
    for (const PoolMode mode : {PoolMode::Max, PoolMode::Mean})
      for (const Shape& shape : {Shape{2, 16, 0, 0}, Shape{0, 16, 5, 5}, Shape{2, 0, 3, 3}})
        for (const bool channels_last : {false, true}) {
          INFO((mode == PoolMode::Max ? "max " : "mean ")
               << shape[0] << "x" << shape[1] << "x" << shape[2] << (channels_last ? " NHWC" : ""));
          torch::Tensor x = torch::zeros(shape);
          if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
          x.requires_grad_();
          const torch::Tensor y = eqnn::ops::group_pool(x, p4m, mode);
          CHECK(y.sizes() == Shape{shape[0], shape[1] / 8, shape[2], shape[3]});
          y.sum().backward();
          CHECK(x.grad().sizes() == x.sizes());
        }
    eqnn::GroupPool layer(p4m);
    CHECK(layer(torch::zeros({2, 16, 0, 0})).sizes() == Shape{2, 2, 0, 0});
    // the backward pass checks its own arguments
    const torch::Tensor grad = torch::zeros({2, 2, 3, 3});
    CHECK_THROWS_WITH(
        pool_backward.call(grad, torch::zeros({2, 2, 3, 3}, torch::kByte), 0, true),
        Contains("eqnn::group_pool backward: group order must be in [1, 128], got 0"));
    CHECK_THROWS_WITH(pool_backward.call(grad, torch::zeros({2, 2, 3, 3}), 8, true),
                      Contains("expected a uint8 argmax") && Contains("Float"));
    CHECK_THROWS_WITH(pool_backward.call(grad.to(torch::kLong), at::Tensor(), 8, false),
                      Contains("eqnn::group_pool backward: expected a floating-point tensor"));
  }

  SECTION("group_action: batch 0, and the backward pass counts its elements") {
    for (const bool channels_last : {false, true}) {
      torch::Tensor x = torch::zeros({0, 8, 5, 5});
      if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
      x.requires_grad_();
      const torch::Tensor y = eqnn::ops::group_action(x, p4m, {0, 1, 5}, FieldKind::Regular);
      CHECK(y.sizes() == Shape{0, 8, 5, 5});
      y.sum().backward();
      CHECK(x.grad().sizes() == x.sizes());
    }
    CHECK(eqnn::ops::group_action(torch::zeros({0, 8}), p4m, {1, 2}, FieldKind::Regular).sizes() ==
          Shape{0, 8});
    CHECK(eqnn::ops::group_action(torch::zeros({2, 0}), p4m, {1, 2}, FieldKind::Regular).sizes() ==
          Shape{4, 0});
    CHECK(action_backward.call(torch::zeros({0, 8, 5, 5}), "d4", {3}, true).sizes() ==
          Shape{0, 8, 5, 5});
    CHECK_THROWS_WITH(action_backward.call(torch::zeros({2, 8, 5, 5}), "d4", {}, true),
                      Contains("eqnn::group_action backward: expected 1 to 16 elements per call, "
                               "got 0"));
    CHECK_THROWS_WITH(
        action_backward.call(torch::zeros({0, 8, 5, 5}), "d4", std::vector<int64_t>(17, 0), true),
        Contains("expected 1 to 16 elements per call, got 17"));
    // an equivariance check of nothing is refused (it would pass without comparing a value)
    CHECK_THROWS_WITH(eqnn::check_equivariance(eqnn::GroupPool(p4m), torch::zeros({0, 8, 5, 5})),
                      Contains("eqnn::check_equivariance: expected a non-empty input, got shape "
                               "[0, 8, 5, 5]"));
  }

  SECTION("expand_filter: 0x0 filters and empty banks, and the backward pass checks the shape") {
    const std::vector<std::pair<Shape, Shape>> cases = {{{3, 2, 0, 0}, {24, 2, 0, 0}},
                                                        {{3, 2, 8, 0, 0}, {24, 16, 0, 0}},
                                                        {{0, 2, 3, 3}, {0, 2, 3, 3}},
                                                        {{3, 0, 8, 3, 3}, {24, 0, 3, 3}}};
    for (const auto& [shape, expanded] : cases) {
      INFO(shape.size() << "-D weight with " << shape.back() << "x" << shape.back() << " filters");
      const torch::Tensor w = torch::zeros(shape).requires_grad_();
      const torch::Tensor tw = shape.size() == 4 ? eqnn::ops::expand_lifting_filter(w, p4m)
                                                 : eqnn::ops::expand_group_filter(w, p4m);
      CHECK(tw.sizes() == expanded);
      tw.sum().backward();
      CHECK(w.grad().sizes() == w.sizes());
    }
    const torch::Tensor grad = torch::zeros({24, 16, 3, 3});
    CHECK_THROWS_WITH(expand_backward.call(grad, "d4", {3}),
                      Contains("eqnn::expand_filter backward: expected the shape of a 4-D "
                               "(lifting) or 5-D (group) weight, got [3]"));
    CHECK_THROWS_WITH(expand_backward.call(grad, "d4", {3, 2, 4, 3, 3}),
                      Contains("group axis (dim 2) to have |D4| = 8 entries"));
    CHECK_THROWS_WITH(expand_backward.call(grad, "d4", {3, -2, 8, 3, 3}),
                      Contains("weight sizes must be >= 0"));
    CHECK_THROWS_WITH(expand_backward.call(grad, "d4", {3, 2, 8, 3, 2}),
                      Contains("expected square filters, got 3x2"));
    CHECK_THROWS_WITH(
        expand_backward.call(grad, "d4", {int64_t{1} << 40, int64_t{1} << 20, 8, 3, 3}),
        Contains("is too large"));
    CHECK_THROWS_WITH(expand_backward.call(grad.view({24, 144}), "d4", {3, 2, 8, 3, 3}),
                      Contains("expected a gradient of the expanded bank's shape [24, 16, 3, 3] "
                               "for weight shape [3, 2, 8, 3, 3], got [24, 144]"));
    CHECK(expand_backward.call(grad, "d4", {3, 2, 8, 3, 3}).sizes() == Shape{3, 2, 8, 3, 3});
  }
}

TEST_CASE("CUDA kernels match their CPU twins and layers stay equivariant on the GPU", "[cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("No CUDA device: skipping the CUDA group_pool / group_action / layer tests");
    return;
  }
  for (const Group& g : Group::all()) {
    std::vector<int64_t> all(g.order());
    for (int64_t t = 0; t < g.order(); ++t)
      all[t] = t;
    for (const bool channels_last : {false, true}) {
      INFO(g.name() << (channels_last ? " channels_last" : " NCHW"));
      torch::Tensor x = eqnn_test::randn({2, 3 * g.order(), 7, 7}, torch::kFloat, 12);
      if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
      const torch::Tensor xc = x.to(torch::kCUDA).requires_grad_(true);
      for (const PoolMode mode : {PoolMode::Max, PoolMode::Mean}) {
        const torch::Tensor yc = eqnn::ops::group_pool(xc, g, mode);
        CHECK(eqnn_test::max_abs_diff(yc.cpu(), eqnn::ops::group_pool(x, g, mode)) < 1e-6);
        yc.sum().backward();
        torch::Tensor xr = x.clone().requires_grad_(true);
        eqnn::ops::group_pool(xr, g, mode).sum().backward();
        CHECK(eqnn_test::max_abs_diff(xc.grad().cpu(), xr.grad()) < 1e-6);
        xc.mutable_grad() = torch::Tensor();
      }
      const torch::Tensor ac = eqnn::ops::group_action(xc, g, all, FieldKind::Regular);
      CHECK(torch::equal(ac.cpu(), eqnn::ops::group_action(x, g, all, FieldKind::Regular)));
      const auto report = eqnn::check_equivariance([&](const torch::Tensor& t) { return t; },
                                                   eqnn::FieldType::regular(g),
                                                   eqnn::FieldType::regular(g), x.to(torch::kCUDA));
      CHECK(report.passed());
    }
    // every layer on the GPU
    auto net = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(g, 9));
    net->to(torch::kCUDA);
    const auto report = eqnn::check_equivariance(
        net, eqnn_test::randn({2, 1, 9, 9}, torch::kFloat, 13).to(torch::kCUDA));
    INFO(report.str());
    CHECK(report.passed());
  }
}
