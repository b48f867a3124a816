// eqnn train: train an example classifier on IDX images (Fashion-MNIST by default), with optional
// augmentation by a group, atomic per-epoch checkpoints and resume.
#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "eqnn/eqnn.h"
#include "progress.h"

namespace eqnn_cli {
namespace {

constexpr const char* kDefaultData = "/usr/share/datasets/fashion-mnist";

struct TrainArgs {
  std::string arch = "gcnn";
  std::string group = "d4";
  int64_t width1 = 0, width2 = 0;
  int64_t epochs = 1, batch = 64;
  double lr = 2e-3;
  std::string augment;
  std::string data = kDefaultData;
  std::string train_images, train_labels, test_images, test_labels;
  int64_t train_limit = -1, test_limit = -1;
  uint64_t seed = 0;
  std::string checkpoint;
  bool resume = false;
};

std::string data_file(const TrainArgs& a, const std::string& given, const char* name) {
  const std::string path = given.empty() ? a.data + "/" + name : given;
  TORCH_CHECK(std::filesystem::exists(path), "eqnn train: data file '", path, "' not found. ",
              "Fashion-MNIST comes with Debian's dataset-fashion-mnist package (scripts/setup.sh "
              "installs it: apt-get install dataset-fashion-mnist), or pass --data DIR / the "
              "--train-images, --train-labels, --test-images, --test-labels files");
  return path;
}

}  // namespace

Command add_train_command(CLI::App& app) {
  using namespace eqnn;
  auto a = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand("train", "Train an example classifier (G-CNN or plain CNN)");
  sub->add_option("--arch", a->arch, "gcnn or cnn")
      ->check(CLI::IsMember({"gcnn", "cnn"}))
      ->capture_default_str();
  sub->add_option("-g,--group", a->group, "Group of the G-CNN")->capture_default_str();
  sub->add_option("--width1", a->width1,
                  "Fields (gcnn) or channels (cnn) of the first layer (0: default)");
  sub->add_option("--width2", a->width2, "... of the later layers (0: default)");
  sub->add_option("-e,--epochs", a->epochs, "Epochs")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-b,--batch", a->batch, "Batch size")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--lr", a->lr, "Adam learning rate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--augment", a->augment, "Augment with random elements of this group (e.g. d4)");
  sub->add_option("--data", a->data, "Directory with the four Fashion-MNIST/MNIST IDX files")
      ->capture_default_str();
  sub->add_option("--train-images", a->train_images);
  sub->add_option("--train-labels", a->train_labels);
  sub->add_option("--test-images", a->test_images);
  sub->add_option("--test-labels", a->test_labels);
  sub->add_option("--train-limit", a->train_limit, "Use at most this many training images");
  sub->add_option("--test-limit", a->test_limit, "Use at most this many test images");
  sub->add_option("--seed", a->seed, "Seed (initialisation, shuffling, augmentation)")
      ->capture_default_str();
  sub->add_option("-c,--checkpoint", a->checkpoint,
                  "Checkpoint written after every epoch (atomically)");
  sub->add_flag("--resume", a->resume, "Continue from --checkpoint (same architecture required)");

  return [a] {
    const auto train = data::load_idx_images(
        data_file(*a, a->train_images, "train-images-idx3-ubyte.gz"),
        data_file(*a, a->train_labels, "train-labels-idx1-ubyte.gz"), a->train_limit);
    const auto test = data::load_idx_images(
        data_file(*a, a->test_images, "t10k-images-idx3-ubyte.gz"),
        data_file(*a, a->test_labels, "t10k-labels-idx1-ubyte.gz"), a->test_limit);
    ModelSpec spec;
    spec.arch = a->arch;
    spec.group = Group::from_name(a->group).name();
    spec.input_size = train.images.size(-1);
    spec.in_channels = train.images.size(1);
    spec.width1 = a->width1;
    spec.width2 = a->width2;
    spec.classes = std::max<int64_t>(train.labels.max().item<int64_t>() + 1, 2);
    torch::manual_seed(a->seed);
    torch::nn::Sequential model = build_model(spec);
    torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(a->lr));
    int64_t first_epoch = 0;
    if (a->resume) {
      TORCH_CHECK(!a->checkpoint.empty(), "eqnn train: --resume needs --checkpoint FILE");
      const std::string extra = load_weights(a->checkpoint, spec, model);
      load_optimizer_state(a->checkpoint, optimizer);
      first_epoch = nlohmann::json::parse(extra).value("epoch", -1) + 1;
      std::cout << "resuming " << spec.describe() << " from " << a->checkpoint << " at epoch "
                << first_epoch << "\n";
    }
    std::cout << spec.describe() << ": " << models::parameter_count(*model) << " parameters; "
              << train.images.size(0) << " training and " << test.images.size(0) << " test images; "
              << at::get_num_threads() << " threads\n";

    TrainOptions options;
    options.epochs = a->epochs;
    options.batch_size = a->batch;
    options.seed = a->seed;
    if (!a->augment.empty()) options.augment = Group::from_name(a->augment);
    std::unique_ptr<Progress> bar;
    options.progress = [&](int64_t step, int64_t steps, int64_t epoch, double loss) {
      if (step == 1) bar = std::make_unique<Progress>("epoch " + std::to_string(epoch + 1), steps);
      bar->update(step);
      if (step == steps) {
        bar->finish();
        std::cout << "epoch " << epoch + 1 << ": mean loss " << loss << "\n";
      }
    };
    options.on_epoch_end = [&](int64_t epoch, double) {
      if (!a->checkpoint.empty())
        save_checkpoint(a->checkpoint, spec, model, nlohmann::json{{"epoch", epoch}}.dump(),
                        &optimizer);
    };
    train_classifier(model, optimizer, train.images, train.labels, options, first_epoch);
    std::cout << "test accuracy: " << accuracy(model, test.images, test.labels) << "\n";
    if (!a->checkpoint.empty()) std::cout << "checkpoint: " << a->checkpoint << "\n";
    return 0;
  };
}

}  // namespace eqnn_cli
