// Mixed precision: the autocast scope, the equivariance error of a p4m G-CNN in bfloat16 (every
// stage and the output, odd and even sizes; the bounds are those of docs/metrics.md, section 10)
// and bfloat16 training against float32 from the same start.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "support.h"

namespace {

/// The example G-CNN for 12x12 images of 3 classes, `width` fields in every block.
eqnn::ModelSpec small_gcnn_spec(const std::string& group, int64_t width) {
  eqnn::ModelSpec spec;
  spec.arch = "gcnn";
  spec.group = group;
  spec.input_size = 12;
  spec.width1 = spec.width2 = spec.width3 = width;
  spec.classes = 3;
  return spec;
}

/// The largest cosine equivariance G-EED over the stages of `model` under D4 on `x`, in
/// `precision`.
double worst_stage_geed(torch::nn::Sequential model, const torch::Tensor& x,
                        eqnn::Precision precision) {
  using namespace eqnn::probe;
  ProbeOptions options;
  options.metrics = {Metric::Equivariance};
  options.deviations = {eqnn::probe::Deviation::Cosine};
  options.normalised = false;
  options.uncertainty.resamples = 0;
  const eqnn::AutocastGuard autocast(precision, c10::DeviceType::CPU);
  const Report r =
      run_probe(model_of(model, "gcnn"), x, group_transforms(eqnn::Group::d4()), options);
  double worst = 0;
  for (const ReportRow& row : r.rows)
    if (!std::isnan(row.value)) worst = std::max(worst, row.value);
  return worst;
}

}  // namespace

TEST_CASE("mixed precision: autocast scope, bfloat16 equivariance and training", "[precision]") {
  using eqnn::Precision;
  CHECK(eqnn::precision_from_name("BF16") == Precision::BFloat16);
  CHECK(eqnn::precision_from_name("fp32") == Precision::Float32);
  CHECK(std::string(eqnn::to_string(Precision::Float16)) == "float16");
  CHECK_THROWS_WITH(eqnn::precision_from_name("int8"), Catch::Contains("unknown precision 'int8'"));
  CHECK_THROWS_WITH(eqnn::AutocastGuard(Precision::Float16, c10::DeviceType::CPU),
                    Catch::Contains("float16 autocast runs on a GPU only"));
  CHECK_FALSE(eqnn::detail::autocast_enabled(c10::DeviceType::CPU));
  {
    const eqnn::AutocastGuard on(Precision::BFloat16, c10::DeviceType::CPU);
    CHECK(eqnn::detail::autocast_enabled(c10::DeviceType::CPU));
    CHECK(eqnn::detail::autocast_dtype(c10::DeviceType::CPU) == torch::kBFloat16);
    const eqnn::AutocastGuard unchanged(Precision::Float32, c10::DeviceType::CPU);
    CHECK(eqnn::detail::autocast_enabled(c10::DeviceType::CPU));
  }
  CHECK_FALSE(eqnn::detail::autocast_enabled(c10::DeviceType::CPU));

  // the antialiasing blurs run in the input's dtype under autocast too (a float32 map stays
  // float32, as after avg_pool2d), and take bfloat16 maps with the same taps
  for (const auto blur : {eqnn::Blur::Binomial, eqnn::Blur::Box}) {
    eqnn::SpatialPool2d pool(
        eqnn::SpatialPool2dOptions(eqnn::Group::cyclic(8), 2).stride(2).antialias(true).blur(blur));
    const torch::Tensor x = eqnn_test::randn({2, 8, 8, 8}, torch::kFloat, 4);
    const torch::Tensor y = pool->forward(x);
    {
      const eqnn::AutocastGuard autocast(Precision::BFloat16, c10::DeviceType::CPU);
      const torch::Tensor y_autocast = pool->forward(x);
      CHECK(y_autocast.scalar_type() == torch::kFloat);
      CHECK(torch::equal(y_autocast, y));
    }
    const torch::Tensor y_bf16 = pool->forward(x.to(torch::kBFloat16));
    CHECK(y_bf16.scalar_type() == torch::kBFloat16);
    CHECK(eqnn_test::max_abs_diff(y_bf16.to(torch::kFloat), y) < 0.05);
  }

  // a p4m G-CNN on odd and even inputs: the convolutions run in bfloat16, the batch norms in
  // float32 (their output too), the logits come out bfloat16; every stage stays equivariant to
  // bfloat16's summation-order rounding (cosine G-EED < 1e-5; float32: < 1e-10)
  for (const int64_t size : {int64_t{28}, int64_t{27}}) {
    INFO("size " << size);
    torch::manual_seed(2);
    auto net = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(eqnn::Group::d4(), size));
    net->eval();
    const torch::Tensor x = torch::rand({8, 1, size, size});
    {
      const eqnn::AutocastGuard autocast(Precision::BFloat16, c10::DeviceType::CPU);
      torch::NoGradGuard no_grad;
      CHECK(net->forward(x).scalar_type() == torch::kBFloat16);
    }
    const double fp32 = worst_stage_geed(net, x, Precision::Float32);
    const double bf16 = worst_stage_geed(net, x, Precision::BFloat16);
    CHECK(fp32 < 1e-10);
    INFO("float32 " << fp32 << ", bfloat16 " << bf16);
    CHECK(bf16 < 1e-5);
    CHECK(bf16 > fp32);  // the probe did see bfloat16 features
  }

  // training in bfloat16 with float32 master weights from the same start as float32: the
  // parameters and gradients stay float32, the loss falls, and the accuracy is within 10 points
  const auto data = eqnn_test::shapes_dataset(48);
  const eqnn::ModelSpec spec = small_gcnn_spec("D4", 4);
  double accuracy[2] = {0, 0};
  std::vector<double> losses[2];
  for (const Precision precision : {Precision::Float32, Precision::BFloat16}) {
    const int k = precision == Precision::BFloat16;
    torch::manual_seed(1);
    auto net = eqnn::build_model(spec);
    torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-2));
    eqnn::TrainOptions options;
    options.epochs = 8;
    options.batch_size = 16;
    options.seed = 5;
    options.precision = precision;
    losses[k] = eqnn::train_classifier(net, adam, data.images, data.labels, options);
    for (const torch::Tensor& p : net->parameters()) {
      CHECK(p.scalar_type() == torch::kFloat);
      CHECK(p.grad().scalar_type() == torch::kFloat);
    }
    accuracy[k] = eqnn::accuracy(net, data.images, data.labels);
  }
  CHECK(losses[1].back() < 0.7 * losses[1].front());
  CHECK(std::abs(accuracy[1] - accuracy[0]) <= 0.1);
  INFO("float32 accuracy " << accuracy[0] << ", bfloat16 " << accuracy[1]);
  CHECK(accuracy[1] > 0.6);
  eqnn::TrainOptions fp16;
  fp16.precision = Precision::Float16;
  torch::manual_seed(1);
  auto net = eqnn::build_model(spec);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-2));
  CHECK_THROWS_WITH(eqnn::train_classifier(net, adam, data.images, data.labels, fp16),
                    Catch::Contains("float16 training runs on CUDA models"));
}

TEST_CASE("mixed precision: dynamic loss scaling", "[precision][train]") {
  using eqnn::LossScaler;
  using eqnn::LossScalerOptions;
  CHECK_THROWS_WITH(LossScaler(LossScalerOptions().initial_scale(0)),
                    Catch::Contains("positive, finite scale"));
  CHECK_THROWS_WITH(LossScaler(LossScalerOptions().growth_factor(1)),
                    Catch::Contains("growth_factor > 1"));
  CHECK_THROWS_WITH(LossScaler(LossScalerOptions().backoff_factor(1)),
                    Catch::Contains("backoff_factor in (0, 1)"));
  CHECK_THROWS_WITH(LossScaler(LossScalerOptions().growth_interval(0)),
                    Catch::Contains("positive growth_interval"));
  // the schedule: halve on overflow, double after growth_interval clean steps in a row
  LossScaler scaler(LossScalerOptions().initial_scale(8).growth_interval(2));
  scaler.update(true);
  CHECK(scaler.current_scale() == 8);
  scaler.update(true);
  CHECK(scaler.current_scale() == 16);
  scaler.update(true);
  scaler.update(false);  // the overflow also restarts the count of clean steps
  CHECK(scaler.current_scale() == 8);
  CHECK(scaler.skipped_steps() == 1);
  scaler.update(true);
  CHECK(scaler.current_scale() == 8);
  // unscale divides the gradients and reports any non-finite one
  torch::Tensor a = torch::ones({3}).requires_grad_(), b = torch::ones({2}).requires_grad_();
  scaler.scale((a * 4).sum() + b.sum()).backward();
  CHECK(scaler.unscale({a, b}));
  CHECK(torch::equal(a.grad(), torch::full({3}, 4.0f)));
  CHECK(torch::equal(b.grad(), torch::ones({2})));
  b.grad()[1] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(scaler.unscale({a, b}));

  // in training: a power-of-two scale changes no bit of the weights (scaling by 2^k commutes
  // with rounding); a scale that overflows the float32 gradients skips those steps (the
  // weights stay put) and backs off until the gradients are finite
  const auto data = eqnn_test::shapes_dataset(48);
  const eqnn::ModelSpec spec = small_gcnn_spec("C4", 3);
  const auto train = [&](std::shared_ptr<LossScaler> loss_scaler, int64_t epochs) {
    torch::manual_seed(4);
    auto net = eqnn::build_model(spec);
    torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.05));
    eqnn::TrainOptions options;
    options.epochs = epochs;
    options.batch_size = 16;
    options.seed = 2;
    options.loss_scaler = std::move(loss_scaler);
    eqnn::train_classifier(net, sgd, data.images, data.labels, options);
    return net;
  };
  const auto plain = train(nullptr, 2);
  const auto scaled =
      train(std::make_shared<LossScaler>(LossScalerOptions().initial_scale(1024)), 2);
  const auto p = plain->parameters(), q = scaled->parameters();
  for (size_t i = 0; i < p.size(); ++i)
    CHECK(torch::equal(p[i], q[i]));

  // a scale that overflows float32 (loss * 1e39 = Inf) skips the step and backs off: with
  // backoff 1e-6 the next steps run at 1e33 and step; at 1e300 with backoff 1e-100 all three
  // steps (scales 1e300, 1e200, 1e100) overflow and the weights stay where they started
  torch::manual_seed(4);
  const auto start = eqnn::build_model(spec)->parameters();
  const auto moved_from_start = [&](const torch::nn::Sequential& net) {
    bool moved = false;
    const auto trained = net->parameters();
    for (size_t i = 0; i < trained.size(); ++i) {
      CHECK(torch::isfinite(trained[i]).all().item<bool>());
      moved = moved || !torch::equal(trained[i], start[i]);
    }
    return moved;
  };
  auto recovering =
      std::make_shared<LossScaler>(LossScalerOptions().initial_scale(1e39).backoff_factor(1e-6));
  CHECK(moved_from_start(train(recovering, 1)));  // 48 images: 3 steps
  CHECK(recovering->skipped_steps() == 1);
  CHECK(recovering->current_scale() == Approx(1e33));
  auto hopeless =
      std::make_shared<LossScaler>(LossScalerOptions().initial_scale(1e300).backoff_factor(1e-100));
  CHECK_FALSE(moved_from_start(train(hopeless, 1)));
  CHECK(hopeless->skipped_steps() == 3);
}
