// Training end to end on a small generated IDX data set: the pipeline learns, checkpoints round
// trip with the optimizer, and a resumed run reproduces an uninterrupted one exactly.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include <unistd.h>

#include "support.h"

namespace {

eqnn::ModelSpec small_training_spec() {
  eqnn::ModelSpec spec;
  spec.arch = "gcnn";
  spec.group = "d4";
  spec.input_size = 12;
  spec.width1 = 2;
  spec.width2 = 4;
  spec.width3 = 4;
  spec.classes = 3;
  return spec;
}

}  // namespace

TEST_CASE("training learns, checkpoints round trip, and resuming reproduces the run", "[train]") {
  const auto data = eqnn_test::shapes_dataset(48);
  eqnn::TrainOptions options;
  options.epochs = 8;  // enough steps for the batch-norm running statistics to settle
  options.batch_size = 16;
  options.augment = eqnn::Group::d4();
  options.seed = 5;
  options.learning_rate = 1e-2;
  options.schedule = eqnn::LrSchedule::Cosine;
  options.warmup = 0.1;
  int64_t progress_calls = 0;
  options.progress = [&](int64_t step, int64_t steps, int64_t, double loss) {
    ++progress_calls;
    CHECK(step <= steps);
    CHECK(std::isfinite(loss));
  };

  // uninterrupted: 8 epochs
  torch::manual_seed(1);
  auto straight = eqnn::build_model(small_training_spec());
  torch::optim::Adam adam_straight(straight->parameters(), torch::optim::AdamOptions(1e-2));
  const double before = eqnn::accuracy(straight, data.images, data.labels);
  const auto losses =
      eqnn::train_classifier(straight, adam_straight, data.images, data.labels, options);
  REQUIRE(losses.size() == 8);
  // the optimizer ran the last step at the schedule's last rate
  CHECK(adam_straight.param_groups()[0].options().get_lr() ==
        eqnn::scheduled_learning_rate(options, 8 * 3 - 1, 8 * 3));
  CHECK(progress_calls == 8 * 3);
  CHECK(losses[7] < losses[0]);
  CHECK(eqnn::accuracy(straight, data.images, data.labels) > before);
  // an invariant model's accuracy does not depend on the element the test set is seen under
  const double acc = eqnn::accuracy(straight, data.images, data.labels);
  for (int64_t t = 0; t < 8; ++t)
    CHECK(eqnn::accuracy(straight, data.images, data.labels, 256,
                         std::make_pair(eqnn::Group::d4(), t)) == acc);

  // interrupted after epoch 0 (checkpoint written, then the process "dies"), resumed in a fresh
  // model and optimizer for epochs 1-7: same batches, same learning rates, same weights
  const std::string path = "eqnn_train_test.pt";
  struct Interrupted {};
  torch::manual_seed(1);
  auto first = eqnn::build_model(small_training_spec());
  torch::optim::Adam adam_first(first->parameters(), torch::optim::AdamOptions(1e-2));
  eqnn::TrainOptions interrupted = options;
  interrupted.progress = nullptr;
  interrupted.on_epoch_end = [&](int64_t epoch, double) {
    eqnn::save_checkpoint(path, small_training_spec(), first,
                          "{\"epoch\": " + std::to_string(epoch) + "}", &adam_first);
    throw Interrupted{};
  };
  CHECK_THROWS_AS(eqnn::train_classifier(first, adam_first, data.images, data.labels, interrupted),
                  Interrupted);

  eqnn::Checkpoint ckpt = eqnn::load_checkpoint(path);
  CHECK(ckpt.extra_json == "{\"epoch\": 0}");
  torch::optim::Adam adam_resumed(ckpt.model->parameters(), torch::optim::AdamOptions(1e-2));
  REQUIRE(eqnn::load_optimizer_state(path, adam_resumed));
  eqnn::TrainOptions rest = options;
  rest.progress = nullptr;
  eqnn::train_classifier(ckpt.model, adam_resumed, data.images, data.labels, rest,
                         /*first_epoch=*/1);
  for (const auto& p : straight->named_parameters())
    CHECK(torch::allclose(p.value(), ckpt.model->named_parameters()[p.key()], 1e-5, 1e-6));
  for (const auto& b : straight->named_buffers())
    CHECK(torch::allclose(b.value().to(torch::kDouble),
                          ckpt.model->named_buffers()[b.key()].to(torch::kDouble), 1e-5, 1e-6));
  std::remove(path.c_str());
}

TEST_CASE("the cosine schedule warms up, peaks and decays, and bad options are refused",
          "[train]") {
  eqnn::TrainOptions o;
  o.learning_rate = 0.5;
  const int64_t total = 40;
  for (int64_t s = 0; s < total; ++s)
    CHECK(eqnn::scheduled_learning_rate(o, s, total) == 0.5);  // Constant
  o.schedule = eqnn::LrSchedule::Cosine;
  o.warmup = 0.1;  // 4 steps
  std::vector<double> lr;
  for (int64_t s = 0; s < total; ++s)
    lr.push_back(eqnn::scheduled_learning_rate(o, s, total));
  CHECK(lr[0] == Approx(0.125));
  CHECK(lr[3] == Approx(0.5));
  CHECK(lr[4] == Approx(0.5));        // cos(0): the peak
  CHECK(lr[4 + 18] == Approx(0.25));  // half way through the decay
  CHECK(lr[total - 1] > 0);
  CHECK(lr[total - 1] < 0.01);
  for (int64_t s = 1; s < total; ++s)
    CHECK((s <= 3 ? lr[s] > lr[s - 1] : lr[s] <= lr[s - 1]));
  CHECK_THROWS_WITH(eqnn::scheduled_learning_rate(o, total, total),
                    Catch::Contains("step 40 outside [0, 40)"));

  auto net = eqnn::build_model(small_training_spec());
  torch::optim::Adam adam(net->parameters());
  const auto data = eqnn_test::shapes_dataset(6);
  o.warmup = 1.5;
  CHECK_THROWS_WITH(eqnn::train_classifier(net, adam, data.images, data.labels, o),
                    Catch::Contains("warm-up fraction in [0, 1), got 0.5 and 1.5"));
  o.warmup = 0.05;
  o.learning_rate = 0;  // the cosine schedule needs a peak
  CHECK_THROWS_WITH(eqnn::train_classifier(net, adam, data.images, data.labels, o),
                    Catch::Contains("> 0 for the cosine schedule"));

  // the defaults (Constant, learning_rate 0) keep the optimizer's own rate
  torch::optim::Adam own(net->parameters(), torch::optim::AdamOptions(0.02));
  eqnn::TrainOptions defaults;
  defaults.batch_size = 3;
  eqnn::train_classifier(net, own, data.images, data.labels, defaults);
  CHECK(own.param_groups()[0].options().get_lr() == 0.02);
  defaults.learning_rate = 0.01;  // ... and a given constant rate replaces it
  eqnn::train_classifier(net, own, data.images, data.labels, defaults);
  CHECK(own.param_groups()[0].options().get_lr() == 0.01);
}

#ifdef EQNN_CLI_PATH
TEST_CASE("eqnn train runs end to end, checkpoints each epoch and resumes", "[train][cli]") {
  const auto data = eqnn_test::shapes_dataset(30);
  eqnn::data::write_idx("cli_train_images.idx",
                        (data.images.squeeze(1) * 255).round().to(torch::kByte), false);
  eqnn::data::write_idx("cli_train_labels.idx", data.labels.to(torch::kByte), false);
  const std::string files =
      " --train-images cli_train_images.idx --train-labels cli_train_labels.idx"
      " --test-images cli_train_images.idx --test-labels cli_train_labels.idx";
  const std::string cli =
      std::string(EQNN_CLI_PATH) + " train --width1 2 --width2 2 --width3 2 -b 10 -c cli_train.pt";
  std::remove("cli_train.pt");  // an existing checkpoint is refused without --resume or --force
  REQUIRE(std::system((cli + files + " --epochs 1 > cli_train.log 2>&1").c_str()) == 0);
  eqnn::Checkpoint first = eqnn::load_checkpoint("cli_train.pt");
  CHECK(first.spec.arch == "gcnn");
  CHECK(first.spec.classes == 3);
  const nlohmann::json extra = nlohmann::json::parse(first.extra_json);
  CHECK(extra.at("epoch") == 0);
  CHECK(extra.at("recipe") == nlohmann::json::parse(R"({"augment": "none", "batch": 10,
      "lr": 0.003, "schedule": "cosine", "seed": 0, "train_limit": -1})"));
  REQUIRE(std::system((cli + files + " --epochs 2 --resume > cli_train.log 2>&1").c_str()) == 0);
  CHECK(nlohmann::json::parse(eqnn::load_checkpoint("cli_train.pt").extra_json).at("epoch") == 1);
  // resuming with another architecture fails with a non-zero exit code
  CHECK(std::system(
            (cli + files + " --arch cnn --epochs 3 --resume > cli_train.log 2>&1").c_str()) != 0);
  // --deterministic: the same weights from 1 and 2 threads
  std::vector<torch::Tensor> trained[2];
  for (const int threads : {1, 2}) {
    const std::string command = std::string(EQNN_CLI_PATH) + " --threads " +
                                std::to_string(threads) +
                                " train --width1 2 --width2 2 --width3 2 -b 10 --deterministic "
                                "--epochs 1 --force -c cli_train.pt" +
                                files + " > cli_train.log 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
    for (const torch::Tensor& p : eqnn::load_checkpoint("cli_train.pt").model->parameters())
      trained[threads - 1].push_back(p.detach().clone());
  }
  REQUIRE(trained[0].size() == trained[1].size());
  for (size_t k = 0; k < trained[0].size(); ++k)
    CHECK(torch::equal(trained[0][k], trained[1][k]));
  for (const char* f :
       {"cli_train_images.idx", "cli_train_labels.idx", "cli_train.pt", "cli_train.log"})
    std::remove(f);
}
#endif

TEST_CASE("a diverging run stops with a clear error and keeps the last good checkpoint",
          "[train]") {
  const auto data = eqnn_test::shapes_dataset(32);
  const std::string path = "eqnn_train_diverge_test.pt";
  const eqnn::ModelSpec spec = small_training_spec();
  torch::manual_seed(3);
  auto model = eqnn::build_model(spec);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
  eqnn::TrainOptions options;
  options.epochs = 1;
  options.batch_size = 8;
  options.on_epoch_end = [&](int64_t epoch, double) {
    eqnn::save_checkpoint(path, spec, model, "{\"epoch\": " + std::to_string(epoch) + "}", &adam);
  };
  eqnn::train_classifier(model, adam, data.images, data.labels, options);
  std::stringstream good;
  good << std::ifstream(path, std::ios::binary).rdbuf();

  // the second epoch meets an image with an infinite pixel: the loss of its batch is NaN
  options.epochs = 2;
  const torch::Tensor poisoned = data.images.clone();
  poisoned[5][0][3][3] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(eqnn::train_classifier(model, adam, poisoned, data.labels, options, 1),
                    Catch::Contains("eqnn::train_classifier: the loss is NaN at epoch 2, step ") &&
                        Catch::Contains("training diverged and was stopped"));
  for (const auto& p : model->parameters())  // stopped before the step that would spread it
    CHECK(torch::isfinite(p).all().item<bool>());
  std::stringstream after;
  after << std::ifstream(path, std::ios::binary).rdbuf();
  CHECK(after.str() == good.str());  // the epoch-0 checkpoint, untouched
  const eqnn::Checkpoint kept = eqnn::load_checkpoint(path);
  CHECK(kept.extra_json == "{\"epoch\": 0}");
  for (const auto& p : kept.model->parameters())
    CHECK(torch::isfinite(p).all().item<bool>());
  // and no training on nothing
  CHECK_THROWS_WITH(eqnn::train_classifier(model, adam, data.images.narrow(0, 0, 0),
                                           data.labels.narrow(0, 0, 0), options),
                    Catch::Contains("expected at least one training image"));
  std::remove(path.c_str());
}

namespace {

/// Equal sizes, dtypes and bytes (torch::equal would let -0 equal +0).
bool same_bits(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  const torch::Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.data_ptr(), y.data_ptr(), x.nbytes()) == 0;
}

/// Whether LibTorch's float32 convolution weight gradient has the same bits on 1 and 2 threads
/// for the shapes the models below train (12x12 maps, batch 16, 3x3, 1/16/32 -> 16/32 channels).
/// oneDNN chooses its kernels by CPU: on the AMD EPYC (Zen 3, AVX2) build machine they sum over the
/// batch in a fixed order; on an AMD EPYC with AVX-512 a 1-channel input's did not.
bool convolution_gradient_is_thread_invariant() {
  const int threads_before = at::get_num_threads();
  bool invariant = true;
  for (const int64_t in : {1, 16, 32})
    for (const int64_t out : {16, 32}) {
      torch::Tensor gradients[2];
      for (const int threads : {1, 2}) {
        at::set_num_threads(threads);
        torch::manual_seed(3);
        const torch::Tensor x = torch::randn({16, in, 12, 12});
        const torch::Tensor w = torch::randn({out, in, 3, 3}).requires_grad_();
        const torch::Tensor y = torch::conv2d(x, w, {}, 1, 1);
        y.backward(torch::sin(y.detach()));
        gradients[threads - 1] = w.grad();
      }
      invariant = invariant && same_bits(gradients[0], gradients[1]);
    }
  at::set_num_threads(threads_before);
  return invariant;
}

}  // namespace

// Training with TrainOptions::deterministic is compared between 1 and 2 threads; without it,
// between 1 and 2 threads where LibTorch's convolution gradients allow it (README,
// "Reproducibility"), otherwise between two runs on 2 threads. The probe (forward passes only) is
// always compared between 1 and 2 threads.
TEST_CASE("the same seed gives bit-identical checkpoints and probe reports across thread counts",
          "[train][threads][probe]") {
  const bool across_threads = convolution_gradient_is_thread_invariant();
  if (!across_threads)
    WARN(
        "LibTorch's convolution weight gradients differ in the last bits between 1 and 2 "
        "threads on this CPU: without TrainOptions::deterministic, training is compared between "
        "two runs on 2 threads");
  const auto data = eqnn_test::shapes_dataset(40);
  eqnn::ModelSpec gcnn = small_training_spec();
  eqnn::ModelSpec cnn = small_training_spec();
  cnn.arch = "cnn";
  // 16 output channels per convolution at least: with fewer, oneDNN splits a convolution's
  // weight-gradient sum over the batch between threads (README, "Reproducibility")
  cnn.width1 = 16;
  cnn.width2 = 16;
  cnn.width3 = 16;
  struct Case {
    const char* name;
    eqnn::ModelSpec spec;
    bool augment;
    bool deterministic;
  };
  const int threads_before = at::get_num_threads();
  for (const Case& c : {Case{"gcnn", gcnn, false, true}, Case{"cnn", cnn, false, true},
                        Case{"cnn+aug", cnn, true, true}, Case{"gcnn", gcnn, false, false},
                        Case{"cnn+aug", cnn, true, false}}) {
    INFO(c.name << (c.deterministic ? ", deterministic" : ", default"));
    const std::vector<int> training_threads =
        c.deterministic || across_threads ? std::vector<int>{1, 2} : std::vector<int>{2, 2};
    eqnn::TrainOptions options;
    options.epochs = 2;
    options.batch_size = 16;  // 3 steps per epoch, the last one of 8 images
    options.seed = 9;
    options.learning_rate = 1e-2;
    options.deterministic = c.deterministic;
    if (c.augment) options.augment = eqnn::Group::d4();
    std::vector<std::vector<double>> losses;
    std::vector<eqnn::Checkpoint> checkpoints;
    for (const int threads : training_threads) {
      at::set_num_threads(threads);
      torch::manual_seed(1);
      auto model = eqnn::build_model(c.spec);
      torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2));
      losses.push_back(eqnn::train_classifier(model, adam, data.images, data.labels, options));
      CHECK(at::get_num_threads() == threads);  // deterministic restores the thread count
      const std::string path = "eqnn_threads_" + std::to_string(::getpid()) + ".pt";
      eqnn::save_checkpoint(path, c.spec, model, "{}", &adam);
      checkpoints.push_back(eqnn::load_checkpoint(path));
      std::remove(path.c_str());
    }
    at::set_num_threads(threads_before);
    CHECK(losses[0] == losses[1]);
    const auto one = checkpoints[0].model->named_parameters();
    const auto two = checkpoints[1].model->named_parameters();
    REQUIRE(one.size() == two.size());
    for (const auto& p : one) {
      INFO("parameter " << p.key());
      CHECK(same_bits(p.value(), two[p.key()]));
    }
    const auto one_buffers = checkpoints[0].model->named_buffers();
    const auto two_buffers = checkpoints[1].model->named_buffers();
    REQUIRE(one_buffers.size() == two_buffers.size());
    for (const auto& b : one_buffers) {
      INFO("buffer " << b.key());
      CHECK(same_bits(b.value(), two_buffers[b.key()]));
    }
    // and the probe of the trained model (float32, channels_last: the fused fast paths) reports
    // the same numbers on 1 and 2 threads
    eqnn::Checkpoint& trained = checkpoints[0];
    trained.model->eval();
    const eqnn::probe::ProbedModel probed = eqnn::probe::model_of(trained.model, c.name);
    const auto transforms = eqnn::probe::group_transforms(eqnn::Group::d4());
    at::set_num_threads(1);
    const eqnn::probe::Report report_one =
        eqnn::probe::run_probe(probed, data.images.narrow(0, 0, 12), transforms);
    at::set_num_threads(2);
    const eqnn::probe::Report report_two =
        eqnn::probe::run_probe(probed, data.images.narrow(0, 0, 12), transforms);
    at::set_num_threads(threads_before);
    REQUIRE(report_one.rows.size() == report_two.rows.size());
    for (size_t i = 0; i < report_one.rows.size(); ++i) {
      const auto &a = report_one.rows[i], &b = report_two.rows[i];
      INFO("stage " << a.stage << " " << a.metric << " " << a.deviation);
      CHECK(std::memcmp(&a.value, &b.value, sizeof(double)) == 0);
      CHECK(std::memcmp(&a.normalised, &b.normalised, sizeof(double)) == 0);
      CHECK(a.per_element.size() == b.per_element.size());
      CHECK(a.per_sample.size() == b.per_sample.size());
      CHECK((a.per_element.empty() || std::memcmp(a.per_element.data(), b.per_element.data(),
                                                  a.per_element.size() * sizeof(double)) == 0));
      CHECK((a.per_sample.empty() || std::memcmp(a.per_sample.data(), b.per_sample.data(),
                                                 a.per_sample.size() * sizeof(double)) == 0));
    }
  }
}
