// Training and evaluation of the example classifiers (models.h) on image datasets, with optional
// augmentation by random group elements.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <functional>
#include <optional>
#include <vector>

#include "eqnn/group.h"

namespace eqnn {

struct TrainOptions {
  int64_t epochs = 1;
  int64_t batch_size = 64;
  /// Augmentation: each training image is transformed by a uniformly random element of this group.
  std::optional<Group> augment;
  uint64_t seed = 0;
  /// Feature maps in channels_last (the lifting layer / first conv decides for 1-channel images).
  bool channels_last = true;
  /// Called after each step with (step within the epoch, steps per epoch, epoch, running loss).
  std::function<void(int64_t, int64_t, int64_t, double)> progress;
  /// Called after each epoch with (epoch, mean loss); e.g. to write a checkpoint.
  std::function<void(int64_t, double)> on_epoch_end;
};

/// Transforms each image of x (B, C, H, W) by the element in `elements` (B, int64) of `group`.
torch::Tensor apply_elements(const torch::Tensor& x, const Group& group,
                             const torch::Tensor& elements);

/// Trains with cross-entropy from epoch `first_epoch` to options.epochs - 1 (resume: pass the next
/// epoch), shuffling with a generator seeded by (seed, epoch) so a resumed run sees the same
/// batches. Returns the mean loss of each epoch run.
std::vector<double> train_classifier(torch::nn::Sequential& model,
                                     torch::optim::Optimizer& optimizer,
                                     const torch::Tensor& images, const torch::Tensor& labels,
                                     const TrainOptions& options, int64_t first_epoch = 0);

/// Top-1 accuracy in eval mode, optionally after transforming every image by group element
/// `element` (the test set "seen" under that element).
double accuracy(torch::nn::Sequential& model, const torch::Tensor& images,
                const torch::Tensor& labels, int64_t batch_size = 256,
                const std::optional<std::pair<Group, int64_t>>& transform = std::nullopt);

}  // namespace eqnn
