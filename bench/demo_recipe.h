// eqnn demo's training recipe for the measurement programs beside the benchmarks (the ablations):
// Adam at 3e-3, 5% warm-up then cosine decay, batch 32, the default seed of the shuffles.
#pragma once

#include <torch/torch.h>

#include <chrono>

#include "eqnn/data/idx.h"
#include "eqnn/train.h"

namespace eqnn_bench {

/// Trains `net` on `train` for `epochs` with the demo's recipe; returns the seconds it took.
inline double train_with_demo_recipe(torch::nn::Sequential& net,
                                     const eqnn::data::ImageDataset& train, int64_t epochs) {
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(3e-3));
  eqnn::TrainOptions recipe;
  recipe.epochs = epochs;
  recipe.batch_size = 32;
  recipe.learning_rate = 3e-3;
  recipe.schedule = eqnn::LrSchedule::Cosine;
  const auto start = std::chrono::steady_clock::now();
  eqnn::train_classifier(net, optimizer, train.images, train.labels, recipe);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace eqnn_bench
