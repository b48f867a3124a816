/// \file
/// Training and evaluation of the example classifiers (models.h) on image datasets, with optional
/// augmentation by random group elements.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "eqnn/group.h"
#include "eqnn/loss_scaler.h"
#include "eqnn/precision.h"

namespace eqnn {
namespace distributed {
class Communicator;
}

/// How the learning rate changes over training (scheduled_learning_rate).
enum class LrSchedule {
  Constant,  ///< learning_rate throughout (0: the optimizer's own rate, untouched)
  Cosine,    ///< linear warm-up, then cosine decay towards 0 over all epochs
};

/// The recipe of train_classifier.
struct TrainOptions {
  int64_t epochs = 1;       ///< number of passes over the training set
  int64_t batch_size = 64;  ///< images per step (the last batch of an epoch may be smaller)
  /// Learning rate (the peak of Cosine), set on every parameter group before each step. 0 (the
  /// default) with Constant leaves the optimizer's own rate alone.
  double learning_rate = 0;
  LrSchedule schedule = LrSchedule::Constant;  ///< see LrSchedule
  /// Fraction of all steps spent warming up (Cosine).
  double warmup = 0.05;
  /// Augmentation: each training image is transformed by a uniformly random element of this group.
  std::optional<Group> augment;
  uint64_t seed = 0;  ///< seeds the shuffling and the augmentation (with the epoch)
  /// Feature maps in channels_last (the lifting layer / first conv decides for 1-channel images).
  /// Models with a torch::nn::BatchNorm2d train in NCHW regardless: LibTorch's channels_last
  /// batch-norm kernel sums in one partial sum per thread, so their weights would depend on the
  /// thread count (README, "Reproducibility").
  bool channels_last = true;
  /// Data-parallel training across the communicator's ranks (null or world size 1: this process
  /// alone; docs/ARCHITECTURE.md, "Scaling out"). Every rank calls train_classifier with the same
  /// model, data and options; rank 0's parameters and buffers are broadcast first. Each rank
  /// takes its contiguous share (distributed::shard_range) of every batch of batch_size images of
  /// the same seeded order (and the same augmentation draws), and the gradients are summed across
  /// ranks weighted by the shares (distributed::GradientAllReduce, overlapping the backward
  /// pass): each step is the single process's step with the whole batch, up to float32 rounding.
  /// Batch-norm layers normalise with the rank's share of the batch only (local statistics;
  /// see sync_batch_norm); their running statistics are averaged across ranks after every
  /// epoch. Losses passed to the callbacks and returned are the whole batch's.
  std::shared_ptr<distributed::Communicator> communicator;
  /// With a communicator: batch-norm layers (eqnn::GroupBatchNorm2d anywhere in the model,
  /// torch::nn::BatchNorm1d/2d/3d as direct children of the Sequential) take their statistics over
  /// the whole batch across ranks (distributed::sync_batch_norm), so that training with batch
  /// norm, too, is the single process's up to rounding. Each rank's loss is then scaled by its
  /// share before the backward pass and the gradients are summed with weight 1. Needs every rank
  /// to hold at least one image of every batch (batch_size and the last batch >= world size);
  /// refuses torch batch norms nested deeper (they cannot be reached).
  bool sync_batch_norm = false;
  /// The forward pass's arithmetic: BFloat16 runs it under autocast (convolutions and linear
  /// layers in bfloat16, batch norm and the loss in float32) with the parameters, their gradients
  /// and the optimizer in float32 (eqnn/precision.h). Float16 (CUDA models only) does the same in
  /// float16 with dynamic loss scaling (loss_scaler; a default LossScaler when that is null).
  Precision precision = Precision::Float32;
  /// Dynamic loss scaling (eqnn/loss_scaler.h) for any precision: the loss is scaled before the
  /// backward pass, the gradients unscaled after it (and after the all-reduce), and a step whose
  /// gradients are not finite is skipped (the optimizer does not step; the learning-rate schedule
  /// moves on). Shared, so that its state can be read, checkpointed and restored.
  std::shared_ptr<LossScaler> loss_scaler;
  /// Bit-reproducible training across thread counts: a CPU model trains on one intra-op thread
  /// (restored after the run; the callbacks run on it too), so a seed gives the same weights
  /// whatever the thread count. On some CPUs oneDNN splits a convolution's weight-gradient sum
  /// over the batch between the threads in a way that depends on their number (README,
  /// "Reproducibility"); this removes that at the price of the threads
  /// (bench/bench_train.cpp measures it). On CUDA it selects cuDNN's deterministic algorithms
  /// instead (not tested on a GPU yet). Off by default.
  bool deterministic = false;
  /// Bytes of gradient per all-reduce bucket (with a communicator).
  int64_t bucket_bytes = int64_t{1} << 20;
  /// Called after each step with (step within the epoch, steps per epoch, epoch, running loss).
  std::function<void(int64_t, int64_t, int64_t, double)> progress;
  /// Called after each epoch with (epoch, mean loss); e.g. to write a checkpoint.
  std::function<void(int64_t, double)> on_epoch_end;
};

/// The learning rate of step `step` (0-based, counted over all epochs) out of `total_steps` under
/// options.schedule (options.learning_rate for Constant).
double scheduled_learning_rate(const TrainOptions& options, int64_t step, int64_t total_steps);

/// Transforms each image of x (B, C, H, W) by the element in `elements` (B, int64) of `group`.
torch::Tensor apply_elements(const torch::Tensor& x, const Group& group,
                             const torch::Tensor& elements);

/// Trains with cross-entropy (on the model's device: each batch is moved there) from epoch
/// `first_epoch` to options.epochs - 1 (resume: pass the next epoch), shuffling with a generator
/// seeded by (seed, epoch) so a resumed run sees the same batches and learning rates. Returns the
/// mean loss of each epoch run. Throws for images that are not (N, C, H, W) with N labels, an empty
/// set, invalid options, or a loss that turns NaN or infinite (then before the step that would
/// apply it, so on_epoch_end never sees bad weights).
std::vector<double> train_classifier(torch::nn::Sequential& model,
                                     torch::optim::Optimizer& optimizer,
                                     const torch::Tensor& images, const torch::Tensor& labels,
                                     const TrainOptions& options, int64_t first_epoch = 0);

/// Top-1 accuracy in eval mode (on the model's device), optionally after transforming every image
/// by group element `element` (the test set "seen" under that element).
double accuracy(torch::nn::Sequential& model, const torch::Tensor& images,
                const torch::Tensor& labels, int64_t batch_size = 256,
                const std::optional<std::pair<Group, int64_t>>& transform = std::nullopt);

/// Top-1 accuracy in eval mode after applying `transform` to each batch of images (B, C, H, W),
/// e.g. a rotation the training never saw.
double accuracy(torch::nn::Sequential& model, const torch::Tensor& images,
                const torch::Tensor& labels, int64_t batch_size,
                const std::function<torch::Tensor(const torch::Tensor&)>& transform);

}  // namespace eqnn
