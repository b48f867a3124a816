#include "training_args.h"

#include <c10/util/Exception.h>

#include <filesystem>
#include <iostream>

#include "arg_checks.h"
#include "cli.h"

namespace eqnn_cli {
namespace {

std::string data_file(const DataArgs& a, const std::string& given, const char* name,
                      const std::string& who) {
  const std::string path = given.empty() ? a.dir + "/" + name : given;
  TORCH_CHECK(std::filesystem::exists(path), who, ": data file '", path, "' not found. ",
              "Fashion-MNIST comes with Debian's dataset-fashion-mnist package (scripts/setup.sh "
              "installs it: apt-get install dataset-fashion-mnist), or pass --data DIR / the "
              "--train-images, --train-labels, --test-images, --test-labels files");
  return path;
}

}  // namespace

void DataArgs::add_to(CLI::App* command) {
  command->add_option("--data", dir, "Directory with the four Fashion-MNIST/MNIST IDX files")
      ->capture_default_str();
  command->add_option("--train-images", train_images, "IDX training images (overrides --data)");
  command->add_option("--train-labels", train_labels);
  command->add_option("--test-images", test_images);
  command->add_option("--test-labels", test_labels);
  command->add_option("--train-limit", train_limit, "Use at most this many training images")
      ->check(integer_in(1));
  command->add_option("--test-limit", test_limit, "Use at most this many test images")
      ->check(integer_in(1));
}

Datasets load_datasets(const DataArgs& a, const std::string& who) {
  // Checked in a fixed order (argument evaluation order is unspecified), so the first missing
  // file is the one named.
  const std::string train_images = data_file(a, a.train_images, "train-images-idx3-ubyte.gz", who);
  const std::string train_labels = data_file(a, a.train_labels, "train-labels-idx1-ubyte.gz", who);
  const std::string test_images = data_file(a, a.test_images, "t10k-images-idx3-ubyte.gz", who);
  const std::string test_labels = data_file(a, a.test_labels, "t10k-labels-idx1-ubyte.gz", who);
  Datasets d;
  d.train = eqnn::data::load_idx_images(train_images, train_labels, a.train_limit);
  d.test = eqnn::data::load_idx_images(test_images, test_labels, a.test_limit);
  TORCH_CHECK(d.train.images.sizes().slice(1) == d.test.images.sizes().slice(1), who,
              ": training images are ", d.train.images.sizes().slice(1), " but test images are ",
              d.test.images.sizes().slice(1));
  return d;
}

void RecipeArgs::add_to(CLI::App* command) {
  command->add_option("-e,--epochs", epochs, "Epochs")
      ->capture_default_str()
      ->check(integer_in(1, 1000000));
  command->add_option("-b,--batch", batch, "Batch size")
      ->capture_default_str()
      ->check(integer_in(1, 1 << 20));
  command->add_option("--lr", lr, "Adam learning rate (the peak of the cosine schedule)")
      ->capture_default_str()
      ->check(positive_finite());
  command->add_option("--schedule", schedule, "cosine (5% warm-up, then cosine decay) or constant")
      ->check(CLI::IsMember({"cosine", "constant"}))
      ->capture_default_str();
  command->add_option("--seed", seed, "Seed (initialisation, shuffling, augmentation)")
      ->capture_default_str()
      ->check(integer_in(0));
  command->add_flag("--deterministic", deterministic,
                    "The same weights with any --threads: training runs on one intra-op thread "
                    "(README, \"Reproducibility\")");
}

nlohmann::json recipe_json(const RecipeArgs& recipe, const DataArgs& data,
                           const std::string& augment) {
  return {{"batch", recipe.batch},
          {"lr", recipe.lr},
          {"schedule", recipe.schedule},
          {"seed", recipe.seed},
          {"train_limit", data.train_limit},
          {"augment", augment.empty() ? "none" : eqnn::Group::from_name(augment).name()}};
}

void check_same_recipe(const nlohmann::json& saved, const nlohmann::json& now,
                       const std::string& path, const std::string& who) {
  // the recipe keys and the options that set them
  static const std::vector<std::pair<const char*, const char*>> kOptions = {
      {"batch", "--batch"},
      {"lr", "--lr"},
      {"schedule", "--schedule"},
      {"seed", "--seed"},
      {"train_limit", "--train-limit"},
      {"augment", "--augment"}};
  auto shown = [](const char* key, const nlohmann::json& v) {
    if (std::string(key) == "train_limit" && v.is_number() && v.get<int64_t>() < 0)
      return std::string("(all images)");
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  for (const auto& [key, option] : kOptions) {
    const nlohmann::json& was = saved.contains(key) ? saved.at(key) : nlohmann::json();
    const nlohmann::json& is = now.at(key);
    if (was == is) continue;
    throw UsageError(who + ": --resume: " + option + " is " + shown(key, is) + " but '" + path +
                     "' was trained with " + option + " " +
                     (was.is_null() ? std::string("(not recorded)") : shown(key, was)) +
                     "; resume with the recipe it was trained with (or start afresh with "
                     "--force)");
  }
}

eqnn::TrainOptions RecipeArgs::options() const {
  eqnn::TrainOptions o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.learning_rate = lr;
  o.schedule = schedule == "cosine" ? eqnn::LrSchedule::Cosine : eqnn::LrSchedule::Constant;
  o.seed = seed;
  o.deterministic = deterministic;
  return o;
}

std::function<void(int64_t, int64_t, int64_t, double)> training_progress(
    std::string label, int64_t first_epoch, int64_t epochs, std::shared_ptr<Progress>& bar,
    bool verbose) {
  return [label = std::move(label), first_epoch, epochs, &bar, verbose](
             int64_t step, int64_t steps, int64_t epoch, double loss) {
    if (!bar) bar = std::make_shared<Progress>(label, (epochs - first_epoch) * steps);
    bar->update((epoch - first_epoch) * steps + step);
    if (step == steps && verbose)
      bar->note(label + " epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs) +
                ": mean loss " + std::to_string(loss));
    if (step == steps && epoch + 1 == epochs) bar->finish();
  };
}

}  // namespace eqnn_cli
