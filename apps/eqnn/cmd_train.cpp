// eqnn train: train an example classifier on IDX images (Fashion-MNIST by default), with optional
// augmentation by a group, atomic per-epoch checkpoints and resume.
#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "eqnn/eqnn.h"
#include "progress.h"
#include "training_args.h"

namespace eqnn_cli {
namespace {

struct TrainArgs {
  std::string arch = "gcnn";
  std::string group = "d4";
  int64_t width1 = 0, width2 = 0, width3 = 0;
  std::string augment;
  DataArgs data;
  RecipeArgs recipe;
  std::string checkpoint;
  bool resume = false;
};

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
                  "Fields (gcnn) or channels (cnn) of the first block (0: default)");
  sub->add_option("--width2", a->width2, "... of the second block (0: default)");
  sub->add_option("--width3", a->width3, "... of the third block (0: default)");
  sub->add_option("--augment", a->augment, "Augment with random elements of this group (e.g. d4)");
  a->recipe.add_to(sub);
  a->data.add_to(sub);
  sub->add_option("-c,--checkpoint", a->checkpoint,
                  "Checkpoint written after every epoch (atomically)");
  sub->add_flag("--resume", a->resume, "Continue from --checkpoint (same architecture required)");

  return [a] {
    const Datasets data = load_datasets(a->data, "eqnn train");
    ModelSpec spec;
    spec.arch = a->arch;
    spec.group = Group::from_name(a->group).name();
    spec.input_size = data.train.images.size(-1);
    spec.in_channels = data.train.images.size(1);
    spec.width1 = a->width1;
    spec.width2 = a->width2;
    spec.width3 = a->width3;
    spec.classes = std::max<int64_t>(data.train.labels.max().item<int64_t>() + 1, 2);
    torch::manual_seed(a->recipe.seed);
    torch::nn::Sequential model = build_model(spec);
    torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(a->recipe.lr));
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
              << data.train.images.size(0) << " training and " << data.test.images.size(0)
              << " test images; " << at::get_num_threads() << " threads\n";

    TrainOptions options = a->recipe.options();
    if (!a->augment.empty()) options.augment = Group::from_name(a->augment);
    std::shared_ptr<Progress> bar;
    options.progress = training_progress("training", first_epoch, options.epochs, bar, true);
    options.on_epoch_end = [&](int64_t epoch, double) {
      if (!a->checkpoint.empty())
        save_checkpoint(a->checkpoint, spec, model, nlohmann::json{{"epoch", epoch}}.dump(),
                        &optimizer);
    };
    train_classifier(model, optimizer, data.train.images, data.train.labels, options, first_epoch);
    std::cout << "test accuracy: " << accuracy(model, data.test.images, data.test.labels) << "\n";
    if (!a->checkpoint.empty()) std::cout << "checkpoint: " << a->checkpoint << "\n";
    return 0;
  };
}

}  // namespace eqnn_cli
