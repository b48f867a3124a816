// Options shared by `eqnn train` and `eqnn demo`: where the images are, and the training recipe.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "eqnn/data/idx.h"
#include "eqnn/train.h"
#include "progress.h"

namespace eqnn_cli {

/// Debian's dataset-fashion-mnist package installs the four IDX files here.
inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

struct DataArgs {
  std::string dir = kDefaultDataDir;
  std::string train_images, train_labels, test_images, test_labels;  ///< override dir's files
  int64_t train_limit = -1, test_limit = -1;                         ///< -1: all

  void add_to(CLI::App* command);
};

struct Datasets {
  eqnn::data::ImageDataset train, test;
};

/// Reads the training and test sets; a missing file gives an error that says how to install
/// Fashion-MNIST. `who` names the command in messages.
Datasets load_datasets(const DataArgs& args, const std::string& who);

struct RecipeArgs {
  int64_t epochs = 3;
  int64_t batch = 32;
  double lr = 3e-3;
  std::string schedule = "cosine";
  uint64_t seed = 0;
  bool deterministic = false;  ///< TrainOptions::deterministic (not part of the recipe)

  void add_to(CLI::App* command);
  /// TrainOptions with this recipe (no augmentation, no callbacks).
  eqnn::TrainOptions options() const;
};

/// What a resumed run must share with the run that wrote the checkpoint (stored in the
/// checkpoint's extra JSON as "recipe"): batch, lr, schedule, seed, train_limit and augment
/// (canonical group name or "none"). The number of epochs may grow.
nlohmann::json recipe_json(const RecipeArgs& recipe, const DataArgs& data,
                           const std::string& augment);

/// Throws UsageError naming the first option whose value differs from the checkpoint's.
void check_same_recipe(const nlohmann::json& saved, const nlohmann::json& now,
                       const std::string& path, const std::string& who);

/// A TrainOptions::progress callback that draws one bar over all epochs of a run (created on the
/// first step), and prints each epoch's mean loss when `verbose`.
std::function<void(int64_t, int64_t, int64_t, double)> training_progress(
    std::string label, int64_t first_epoch, int64_t epochs, std::shared_ptr<Progress>& bar,
    bool verbose);

}  // namespace eqnn_cli
