// Training end to end on a small generated IDX data set: the pipeline learns, checkpoints round
// trip with the optimizer, and a resumed run reproduces an uninterrupted one exactly.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>

#include "support.h"

namespace {

/// 3 classes of 12x12 images that no rotation or mirror maps into each other (a bar, a filled
/// square, a square outline; plus noise), as IDX files.
eqnn::data::ImageDataset make_dataset(int64_t n) {
  torch::manual_seed(11);
  torch::Tensor pixels = (torch::rand({n, 12, 12}) * 60).to(torch::kByte);
  torch::Tensor labels = torch::arange(n, torch::kLong).remainder(3).to(torch::kByte);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = labels[i].item<int64_t>();
    if (c == 0) pixels[i].narrow(0, 5, 2).fill_(250);                  // horizontal bar
    if (c == 1) pixels[i].narrow(0, 2, 8).narrow(1, 2, 8).fill_(250);  // filled square
    if (c == 2) {                                                      // square outline
      pixels[i].narrow(0, 2, 8).narrow(1, 2, 8).fill_(250);
      pixels[i].narrow(0, 4, 4).narrow(1, 4, 4).fill_(0);
    }
  }
  eqnn::data::write_idx("eqnn_train_images.idx.gz", pixels, true);
  eqnn::data::write_idx("eqnn_train_labels.idx.gz", labels, true);
  auto data = eqnn::data::load_idx_images("eqnn_train_images.idx.gz", "eqnn_train_labels.idx.gz");
  std::remove("eqnn_train_images.idx.gz");
  std::remove("eqnn_train_labels.idx.gz");
  return data;
}

eqnn::ModelSpec small_spec() {
  eqnn::ModelSpec spec;
  spec.arch = "gcnn";
  spec.group = "d4";
  spec.input_size = 12;
  spec.width1 = 2;
  spec.width2 = 4;
  spec.classes = 3;
  return spec;
}

}  // namespace

TEST_CASE("training learns, checkpoints round trip, and resuming reproduces the run", "[train]") {
  const auto data = make_dataset(48);
  eqnn::TrainOptions options;
  options.epochs = 8;  // enough steps for the batch-norm running statistics to settle
  options.batch_size = 16;
  options.augment = eqnn::Group::d4();
  options.seed = 5;
  int64_t progress_calls = 0;
  options.progress = [&](int64_t step, int64_t steps, int64_t, double loss) {
    ++progress_calls;
    CHECK(step <= steps);
    CHECK(std::isfinite(loss));
  };

  // uninterrupted: 2 epochs
  torch::manual_seed(1);
  auto straight = eqnn::build_model(small_spec());
  torch::optim::Adam adam_straight(straight->parameters(), torch::optim::AdamOptions(1e-2));
  const double before = eqnn::accuracy(straight, data.images, data.labels);
  const auto losses =
      eqnn::train_classifier(straight, adam_straight, data.images, data.labels, options);
  REQUIRE(losses.size() == 8);
  CHECK(progress_calls == 8 * 3);
  CHECK(losses[7] < losses[0]);
  CHECK(eqnn::accuracy(straight, data.images, data.labels) > before);
  // an invariant model's accuracy does not depend on the element the test set is seen under
  const double acc = eqnn::accuracy(straight, data.images, data.labels);
  for (int64_t t = 0; t < 8; ++t)
    CHECK(eqnn::accuracy(straight, data.images, data.labels, 256,
                         std::make_pair(eqnn::Group::d4(), t)) == acc);

  // interrupted after epoch 0, checkpointed, resumed in a fresh model and optimizer for epochs 1-7
  const std::string path = "eqnn_train_test.pt";
  torch::manual_seed(1);
  auto first = eqnn::build_model(small_spec());
  torch::optim::Adam adam_first(first->parameters(), torch::optim::AdamOptions(1e-2));
  eqnn::TrainOptions one_epoch = options;
  one_epoch.epochs = 1;
  one_epoch.progress = nullptr;
  one_epoch.on_epoch_end = [&](int64_t epoch, double) {
    eqnn::save_checkpoint(path, small_spec(), first, "{\"epoch\": " + std::to_string(epoch) + "}",
                          &adam_first);
  };
  eqnn::train_classifier(first, adam_first, data.images, data.labels, one_epoch);

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

#ifdef EQNN_CLI_PATH
TEST_CASE("eqnn train runs end to end, checkpoints each epoch and resumes", "[train][cli]") {
  const auto data = make_dataset(30);
  eqnn::data::write_idx("cli_train_images.idx",
                        (data.images.squeeze(1) * 255).round().to(torch::kByte), false);
  eqnn::data::write_idx("cli_train_labels.idx", data.labels.to(torch::kByte), false);
  const std::string files =
      " --train-images cli_train_images.idx --train-labels cli_train_labels.idx"
      " --test-images cli_train_images.idx --test-labels cli_train_labels.idx";
  const std::string cli =
      std::string(EQNN_CLI_PATH) + " train --width1 2 --width2 2 -b 10 -c cli_train.pt";
  REQUIRE(std::system((cli + files + " --epochs 1 > cli_train.log 2>&1").c_str()) == 0);
  eqnn::Checkpoint first = eqnn::load_checkpoint("cli_train.pt");
  CHECK(first.spec.arch == "gcnn");
  CHECK(first.spec.classes == 3);
  CHECK(first.extra_json == R"({"epoch":0})");
  REQUIRE(std::system((cli + files + " --epochs 2 --resume > cli_train.log 2>&1").c_str()) == 0);
  CHECK(eqnn::load_checkpoint("cli_train.pt").extra_json == R"({"epoch":1})");
  // resuming with another architecture fails with a non-zero exit code
  CHECK(std::system(
            (cli + files + " --arch cnn --epochs 3 --resume > cli_train.log 2>&1").c_str()) != 0);
  for (const char* f :
       {"cli_train_images.idx", "cli_train_labels.idx", "cli_train.pt", "cli_train.log"})
    std::remove(f);
}
#endif
