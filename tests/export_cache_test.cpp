// Export to plain LibTorch modules, and the eval-mode filter-bank cache.
#include <catch2/catch.hpp>

#include <cstdio>

#include "support.h"

using eqnn::Group;

TEST_CASE("export_sequential gives plain LibTorch modules with equal outputs", "[export]") {
  std::vector<Group> groups = Group::all();
  groups.push_back(Group::cyclic(8));  // steerable filters and the binomial blur before the pools
  for (const Group& g : groups) {
    for (const bool eval : {false, true}) {
      INFO(g.name() << (eval ? " eval" : " train"));
      auto net = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(g, 9));
      // one more of each layer kind the example does not use
      net->push_back(torch::nn::Identity());
      net->to(torch::kDouble);
      const torch::Tensor x = eqnn_test::randn({3, 1, 9, 9}, torch::kDouble, 1);
      net->forward(x);  // non-trivial batch-norm statistics
      if (eval) net->eval();
      auto exported = eqnn::export_sequential(net);
      CHECK(exported->is_training() == !eval);
      for (const auto& child : exported->children())
        CHECK(child->name().rfind("torch::nn::", 0) == 0);  // nothing of eqnn left
      CHECK(eqnn_test::max_abs_diff(exported->forward(x), net->forward(x)) < 1e-12);
      // a copy: changing the original does not change the export
      {
        torch::NoGradGuard no_grad;
        net->ptr<eqnn::LiftingConv2dImpl>(0)->weight.add_(1);
      }
      CHECK(eqnn_test::max_abs_diff(exported->forward(x), net->forward(x)) > 1e-3);
    }
  }
}

TEST_CASE("each layer's export matches it, including padding modes and mean pooling", "[export]") {
  const Group g = Group::d4();
  const torch::Tensor x = eqnn_test::randn({2, 16, 8, 8}, torch::kFloat, 2);
  std::vector<torch::nn::AnyModule> layers = {
      torch::nn::AnyModule(eqnn::GroupConv2d(eqnn::GroupConv2dOptions(g, 2, 3, 3)
                                                 .padding(1)
                                                 .padding_mode(eqnn::PaddingMode::Reflect))),
      torch::nn::AnyModule(eqnn::GroupConv2d(eqnn::GroupConv2dOptions(g, 2, 3, 2)
                                                 .stride(2)
                                                 .padding(1)
                                                 .bias(false)
                                                 .padding_mode(eqnn::PaddingMode::Circular))),
      torch::nn::AnyModule(eqnn::GroupPool(eqnn::GroupPoolOptions(g).mode(eqnn::PoolMode::Mean))),
      torch::nn::AnyModule(eqnn::GroupPool(g)),
      torch::nn::AnyModule(
          eqnn::SpatialPool2d(eqnn::SpatialPool2dOptions(g, 2).mode(eqnn::PoolMode::Mean))),
      torch::nn::AnyModule(eqnn::SpatialPool2d(eqnn::SpatialPool2dOptions(g, 2).antialias(true))),
      torch::nn::AnyModule(eqnn::SpatialPool2d(
          eqnn::SpatialPool2dOptions(g, 2).antialias(true).blur(eqnn::Blur::Box))),
      torch::nn::AnyModule(eqnn::GlobalAvgPool2d(eqnn::GlobalAvgPool2dOptions(g).flatten(true))),
  };
  for (auto& layer : layers) {
    INFO(layer.ptr()->name());
    auto* eq = dynamic_cast<eqnn::EquivariantModule*>(layer.ptr().get());
    REQUIRE(eq != nullptr);
    torch::nn::Sequential exported = eq->export_module();
    CHECK(eqnn_test::max_abs_diff(exported->forward(x), layer.forward(x)) < 1e-5);
  }
}

TEST_CASE("the antialiasing blurs have the weights they document", "[export][pool]") {
  // a window of 1 leaves the blur alone: y[i][j] = sum_ab w[a] w[b] x[i + a][j + b], a, b in
  // {-1, 0, 1}, zero outside the image; binomial w = (1, 2, 1) / 4, box w = (1, 1, 1) / 3
  for (const auto dtype : eqnn_test::float_types()) {
    for (const int64_t size : {5, 6}) {
      INFO(c10::toString(dtype) << " size=" << size);
      const torch::Tensor x = eqnn_test::randn({2, 3, size, size}, dtype, 4);
      const torch::Tensor xd = x.to(torch::kDouble);
      const auto in = xd.accessor<double, 4>();
      for (const auto blur : {eqnn::Blur::Binomial, eqnn::Blur::Box}) {
        const double w[3] = {blur == eqnn::Blur::Box ? 1 / 3. : 0.25,
                             blur == eqnn::Blur::Box ? 1 / 3. : 0.5,
                             blur == eqnn::Blur::Box ? 1 / 3. : 0.25};
        torch::Tensor expected = torch::zeros_like(xd);
        auto out = expected.accessor<double, 4>();
        for (int64_t b = 0; b < 2; ++b)
          for (int64_t c = 0; c < 3; ++c)
            for (int64_t i = 0; i < size; ++i)
              for (int64_t j = 0; j < size; ++j)
                for (int64_t di = -1; di <= 1; ++di)
                  for (int64_t dj = -1; dj <= 1; ++dj)
                    if (i + di >= 0 && i + di < size && j + dj >= 0 && j + dj < size)
                      out[b][c][i][j] += w[di + 1] * w[dj + 1] * in[b][c][i + di][j + dj];
        eqnn::SpatialPool2d blurred(
            eqnn::SpatialPool2dOptions(eqnn::FieldType::trivial(Group::c1()), 1)
                .antialias(true)
                .blur(blur));
        const double tolerance = dtype == torch::kDouble ? 1e-14 : 1e-6;
        for (const bool channels_last : {false, true}) {
          const torch::Tensor input =
              channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
          CHECK(eqnn_test::max_abs_diff(blurred->forward(input).to(torch::kDouble), expected) <
                tolerance);
        }
        CHECK(eqnn_test::max_abs_diff(blurred->export_module()->forward(x).to(torch::kDouble),
                                      expected) < tolerance);
      }
    }
  }
}

TEST_CASE("eval mode caches the filter bank until a parameter changes", "[cache]") {
  const Group g = Group::c4();
  eqnn::GroupConv2d conv(eqnn::GroupConv2dOptions(g, 2, 2, 3).padding(1));
  const torch::Tensor x = eqnn_test::randn({2, 8, 7, 7}, torch::kFloat, 3);
  const auto fresh = [&] {  // the uncached computation
    return torch::conv2d(x, conv->expanded_weight(), conv->expanded_bias(), 1, 1);
  };

  // training mode never caches
  conv->forward(x);
  CHECK_FALSE(conv->used_cached_filter());
  conv->eval();
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor first = conv->forward(x);
    CHECK_FALSE(conv->used_cached_filter());
    const torch::Tensor second = conv->forward(x);
    CHECK(conv->used_cached_filter());
    CHECK(torch::equal(first, second));
    CHECK(torch::allclose(second, fresh(), 0, 1e-6));
  }
  // with gradients on and trainable parameters, eval mode recomputes (gradients must flow)
  conv->forward(x).sum().backward();
  CHECK_FALSE(conv->used_cached_filter());
  CHECK(conv->weight.grad().abs().sum().item<float>() > 0);
  // an edit through .data() (no version bump) is seen too
  {
    torch::NoGradGuard no_grad;
    conv->forward(x);
    conv->weight.data().mul_(2);
    CHECK(torch::allclose(conv->forward(x), fresh(), 0, 1e-6));
    CHECK_FALSE(conv->used_cached_filter());
  }

  // an optimizer step changes the weights in place (LibTorch's optimizers write through .data(),
  // which does not bump version counters): the cache must still be invalidated
  torch::optim::SGD sgd(conv->parameters(), torch::optim::SGDOptions(0.5));
  {
    torch::NoGradGuard no_grad;
    conv->forward(x);  // refill the cache
    conv->forward(x);
    CHECK(conv->used_cached_filter());
  }
  sgd.step();
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor after = conv->forward(x);
    CHECK_FALSE(conv->used_cached_filter());
    CHECK(torch::allclose(after, fresh(), 0, 1e-6));
  }
  // loading a checkpoint also invalidates it, and the saved keys do not depend on the mode
  const std::string path = "eqnn_cache_test.pt";
  eqnn::GroupConv2d other(eqnn::GroupConv2dOptions(g, 2, 2, 3).padding(1));
  torch::save(other, path);
  const auto keys_eval = conv->named_parameters().keys();
  conv->train();
  CHECK(conv->named_parameters().keys() == keys_eval);
  CHECK(conv->named_buffers().size() == 0);
  conv->eval();
  torch::load(conv, path);
  conv->eval();
  {
    torch::NoGradGuard no_grad;
    CHECK(torch::allclose(conv->forward(x), other->forward(x), 0, 1e-6));
    CHECK_FALSE(conv->used_cached_filter());
  }
  std::remove(path.c_str());
  // inference mode works and leaves a cache usable outside it
  {
    c10::InferenceMode inference;
    conv->forward(x);
  }
  torch::NoGradGuard no_grad;
  CHECK(torch::allclose(conv->forward(x), other->forward(x), 0, 1e-6));
  CHECK(conv->used_cached_filter());
}
