// Mixed precision: the autocast scope, the equivariance error of a p4m G-CNN in bfloat16 (every
// stage and the output, odd and even sizes; the bounds are those of docs/metrics.md, section 10)
// and bfloat16 training against float32 from the same start.
#include <catch2/catch.hpp>

#include <cmath>

#include "support.h"

namespace {

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
  eqnn::ModelSpec spec;
  spec.arch = "gcnn";
  spec.group = "D4";
  spec.input_size = 12;
  spec.width1 = spec.width2 = spec.width3 = 4;
  spec.classes = 3;
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
                    Catch::Contains("float16 training needs loss scaling"));
}
