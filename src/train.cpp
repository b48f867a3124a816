#include "eqnn/train.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/optim/optimizer.h>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/batchnorm.h>
#include <cmath>
#include <set>

#include "eqnn/distributed/communicator.h"
#include "eqnn/distributed/gradient_all_reduce.h"
#include "eqnn/distributed/sync_batch_norm.h"
#include "eqnn/memory_format.h"
#include "eqnn/ops.h"

namespace eqnn {
namespace {

torch::Tensor to_format(const torch::Tensor& x, bool channels_last) {
  return channels_last ? to_channels_last(x) : x.contiguous();
}

/// Whether `model` holds a torch::nn::BatchNorm2d. In training mode LibTorch 1.13's channels_last
/// batch-norm kernel (CPU) sums each channel over the pixels in one partial sum per thread, so its
/// statistics and gradients, and every weight after them, change in the last bits with the
/// thread count; its NCHW kernel sums each channel on one thread, in a fixed order. (eqnn's
/// GroupBatchNorm2d views channels_last maps as (B*H*W, F, |G|), which takes that per-channel
/// kernel.) Such models train in NCHW, so that a seed gives the same weights on 1 or 2 threads.
bool has_plain_batch_norm(const torch::nn::Sequential& model) {
  for (const auto& m : model->modules(/*include_self=*/false))
    if (dynamic_cast<const torch::nn::BatchNorm2dImpl*>(m.get()) != nullptr) return true;
  return false;
}

/// Where the model's parameters are (the CPU for a model without any): batches go there.
torch::Device device_of(const torch::nn::Sequential& model) {
  for (const torch::Tensor& p : model->parameters())
    return p.device();
  return torch::kCPU;
}

/// Rank 0's parameters and buffers on every rank.
void broadcast_state(torch::nn::Sequential& model, distributed::Communicator& communicator) {
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters())
    communicator.broadcast(p.value(), 0, "broadcasting parameter '" + p.key() + "'");
  for (auto& b : model->named_buffers())
    communicator.broadcast(b.value(), 0, "broadcasting buffer '" + b.key() + "'");
}

/// The mean over ranks of every batch-norm running mean and variance (floating-point buffers
/// named running_*).
void average_running_statistics(torch::nn::Sequential& model,
                                distributed::Communicator& communicator) {
  torch::NoGradGuard no_grad;
  for (auto& b : model->named_buffers()) {
    const std::string& name = b.key();
    if (!b.value().is_floating_point() || name.find("running_") == std::string::npos) continue;
    communicator.all_reduce_sum(b.value(), "averaging '" + name + "'");
    b.value().div_(static_cast<double>(communicator.world_size()));
  }
}

/// torch::nn::BatchNorm1d/2d/3d.
bool is_plain_batch_norm(const torch::nn::Module& m) {
  return dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::BatchNorm3dImpl*>(&m) != nullptr;
}

/// Throws unless every torch batch norm of `model` is a direct child (those the synchronised
/// forward reaches), naming the first that is not.
void check_sync_reachable(const torch::nn::Sequential& model) {
  std::set<const torch::nn::Module*> children;
  for (const auto& child : model->children())
    children.insert(child.get());
  for (const auto& m : model->named_modules("", /*include_self=*/false))
    TORCH_CHECK(!is_plain_batch_norm(*m.value()) || children.count(m.value().get()) > 0,
                "eqnn::train_classifier: sync_batch_norm synchronises eqnn::GroupBatchNorm2d "
                "anywhere and torch batch norms that are direct children of the Sequential, but '",
                m.key(), "' (", m.value()->name(),
                ") is nested inside another module; use eqnn::GroupBatchNorm2d or "
                "eqnn::distributed::sync_batch_norm in that module");
}

/// sync_batch_norm with a torch batch norm's parameters, buffers and options.
template <typename Impl>
bool forward_synchronised(torch::nn::Module& m, torch::Tensor& x,
                          const std::shared_ptr<distributed::Communicator>& communicator) {
  auto* bn = dynamic_cast<Impl*>(&m);
  if (bn == nullptr) return false;
  const auto& o = bn->options;
  TORCH_CHECK(o.momentum().has_value(),
              "eqnn::train_classifier: sync_batch_norm needs a "
              "momentum for ",
              bn->name(), " (cumulative averages are not supported)");
  if (o.track_running_stats()) bn->num_batches_tracked.add_(1);
  // under autocast: normalised in the parameters' dtype (float32), as GroupBatchNorm2d does
  const torch::Tensor& reference = bn->weight.defined() ? bn->weight : bn->running_mean;
  if (reference.defined() && x.scalar_type() != reference.scalar_type())
    x = x.to(reference.scalar_type());
  x = distributed::sync_batch_norm(x, bn->weight, bn->bias, bn->running_mean, bn->running_var,
                                   *o.momentum(), o.eps(), communicator);
  return true;
}

/// model->forward(x), with eqnn's batch norms synchronised over `communicator` (non-null) and the
/// torch batch norms among the direct children replaced by distributed::sync_batch_norm.
torch::Tensor forward(torch::nn::Sequential& model, torch::Tensor x,
                      const std::shared_ptr<distributed::Communicator>& communicator) {
  if (communicator == nullptr) return model->forward(x);
  distributed::SyncBatchNormGuard guard(communicator);
  for (auto& child : *model) {
    torch::nn::Module& m = *child.ptr();
    if (forward_synchronised<torch::nn::BatchNorm1dImpl>(m, x, communicator) ||
        forward_synchronised<torch::nn::BatchNorm2dImpl>(m, x, communicator) ||
        forward_synchronised<torch::nn::BatchNorm3dImpl>(m, x, communicator))
      continue;
    x = child.forward(x);
  }
  return x;
}

/// TrainOptions::deterministic on the CPU: LibTorch's intra-op thread count is 1 while this
/// lives (the whole run, callbacks included), and what it was again after. Set once per run:
/// at::set_num_threads also clears LibTorch's oneDNN computation cache, so toggling it around
/// every backward pass would rebuild the convolution primitives at every step.
class SingleThreadedScope {
 public:
  explicit SingleThreadedScope(bool active) : before_(active ? at::get_num_threads() : 0) {
    if (before_ > 1) at::set_num_threads(1);
  }
  ~SingleThreadedScope() {
    if (before_ > 1) at::set_num_threads(before_);
  }
  SingleThreadedScope(const SingleThreadedScope&) = delete;
  SingleThreadedScope& operator=(const SingleThreadedScope&) = delete;

 private:
  int before_;
};

/// TrainOptions::deterministic on CUDA: cuDNN's deterministic algorithms and no autotuning while
/// this lives, the previous settings after.
class DeterministicCudnnScope {
 public:
  explicit DeterministicCudnnScope(bool active)
      : active_(active),
        deterministic_(at::globalContext().deterministicCuDNN()),
        benchmark_(at::globalContext().benchmarkCuDNN()) {
    if (!active_) return;
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
  }
  ~DeterministicCudnnScope() {
    if (!active_) return;
    at::globalContext().setDeterministicCuDNN(deterministic_);
    at::globalContext().setBenchmarkCuDNN(benchmark_);
  }
  DeterministicCudnnScope(const DeterministicCudnnScope&) = delete;
  DeterministicCudnnScope& operator=(const DeterministicCudnnScope&) = delete;

 private:
  bool active_, deterministic_, benchmark_;
};

}  // namespace

double scheduled_learning_rate(const TrainOptions& options, int64_t step, int64_t total_steps) {
  TORCH_CHECK(step >= 0 && step < total_steps, "eqnn::scheduled_learning_rate: step ", step,
              " outside [0, ", total_steps, ")");
  if (options.schedule == LrSchedule::Constant) return options.learning_rate;
  const auto warm =
      static_cast<int64_t>(std::ceil(options.warmup * static_cast<double>(total_steps)));
  if (step < warm)
    return options.learning_rate * static_cast<double>(step + 1) / static_cast<double>(warm);
  // Cosine from the peak after warm-up; the last step still gets a positive rate.
  const double t = static_cast<double>(step - warm) / static_cast<double>(total_steps - warm);
  return options.learning_rate * 0.5 * (1.0 + std::cos(M_PI * t));
}

torch::Tensor apply_elements(const torch::Tensor& x, const Group& group,
                             const torch::Tensor& elements) {
  TORCH_CHECK(elements.dim() == 1 && elements.size(0) == x.size(0),
              "eqnn::apply_elements: expected one element per image, got ", elements.sizes(),
              " for a batch of ", x.size(0));
  torch::Tensor out = x.clone();
  for (int64_t t = 1; t < group.order(); ++t) {  // the identity leaves images unchanged
    const torch::Tensor rows = (elements == t).nonzero().flatten();
    if (rows.numel() == 0) continue;
    out.index_copy_(0, rows,
                    ops::group_action(x.index_select(0, rows), group, {t}, FieldKind::Trivial));
  }
  return out;
}

std::vector<double> train_classifier(torch::nn::Sequential& model,
                                     torch::optim::Optimizer& optimizer,
                                     const torch::Tensor& images, const torch::Tensor& labels,
                                     const TrainOptions& options, int64_t first_epoch) {
  TORCH_CHECK(images.dim() == 4 && labels.dim() == 1 && images.size(0) == labels.size(0),
              "eqnn::train_classifier: expected images (N, C, H, W) and labels (N), got ",
              images.sizes(), " and ", labels.sizes());
  TORCH_CHECK(options.batch_size > 0 && options.epochs >= 0,
              "eqnn::train_classifier: batch size must be positive and epochs non-negative, got ",
              options.batch_size, " and ", options.epochs);
  const bool cosine = options.schedule == LrSchedule::Cosine;
  TORCH_CHECK((cosine ? options.learning_rate > 0 : options.learning_rate >= 0) &&
                  options.warmup >= 0 && options.warmup < 1,
              "eqnn::train_classifier: expected a learning rate >= 0 (> 0 for the cosine "
              "schedule) and a warm-up fraction in [0, 1), got ",
              options.learning_rate, " and ", options.warmup);
  const int64_t n = images.size(0);
  TORCH_CHECK(n > 0, "eqnn::train_classifier: expected at least one training image, got none");
  const int64_t steps = (n + options.batch_size - 1) / options.batch_size;
  std::vector<double> losses;
  const bool channels_last = options.channels_last && !has_plain_batch_norm(model);
  distributed::Communicator* communicator = options.communicator.get();
  const bool parallel = communicator != nullptr && communicator->world_size() > 1;
  const torch::Device device = device_of(model);
  TORCH_CHECK(options.precision != Precision::Float16 || device.is_cuda(),
              "eqnn::train_classifier: float16 training runs on CUDA models (LibTorch's CPU "
              "autocast has no float16); the model is on ",
              device, ": use Precision::BFloat16 on the CPU");
  TORCH_CHECK(!parallel || device.is_cpu(),
              "eqnn::train_classifier: data-parallel training runs "
              "on CPU models (Gloo); the model is on ",
              device);
  const DeterministicCudnnScope deterministic_cudnn(options.deterministic && device.is_cuda());
  const SingleThreadedScope one_thread(options.deterministic && device.is_cpu());
  std::shared_ptr<LossScaler> scaler = options.loss_scaler;
  if (scaler == nullptr && options.precision == Precision::Float16)
    scaler = std::make_shared<LossScaler>();
  // synchronised batch norm: every rank must run every batch's forward pass (its collectives)
  const bool sync = parallel && options.sync_batch_norm;
  if (sync) {
    check_sync_reachable(model);
    const int64_t world = communicator->world_size(), last = n - (steps - 1) * options.batch_size;
    TORCH_CHECK(std::min(options.batch_size, last) >= world,
                "eqnn::train_classifier: sync_batch_norm needs at least one image per rank in "
                "every batch, but with ",
                n, " images, batch size ", options.batch_size, " and ", world,
                " ranks a batch holds ", std::min(options.batch_size, last),
                "; change the batch size or the number of images");
  }
  const std::shared_ptr<distributed::Communicator> sync_communicator =
      sync ? options.communicator : nullptr;
  std::unique_ptr<distributed::GradientAllReduce> gradients;
  if (parallel) {
    broadcast_state(model, *communicator);
    gradients = std::make_unique<distributed::GradientAllReduce>(
        model->parameters(), options.communicator, options.bucket_bytes);
  }
  model->train();
  for (int64_t epoch = first_epoch; epoch < options.epochs; ++epoch) {
    torch::Generator gen = at::detail::createCPUGenerator(options.seed * 1000003 + epoch);
    const torch::Tensor order = torch::randperm(n, gen, torch::kLong);
    double total = 0;
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t begin = step * options.batch_size;
      const int64_t batch = std::min(options.batch_size, n - begin);
      // this rank's share of the batch (all of it in one process); the augmentation draws are
      // made for the whole batch, so that every image gets the element it gets in one process
      const auto [first, last] =
          parallel
              ? distributed::shard_range(batch, communicator->world_size(), communicator->rank())
              : std::make_pair(int64_t{0}, batch);
      const int64_t share = last - first;
      const torch::Tensor idx = order.narrow(0, begin + first, share);
      torch::Tensor x = images.index_select(0, idx);
      if (options.augment) {
        const torch::Tensor elements =
            torch::randint(options.augment->order(), {batch}, gen, torch::kLong);
        x = apply_elements(x, *options.augment, elements.narrow(0, first, share));
      }
      const double lr =
          scheduled_learning_rate(options, epoch * steps + step, options.epochs * steps);
      if (lr > 0 || cosine)  // Constant with learning_rate 0 keeps the optimizer's own rate
        for (auto& group : optimizer.param_groups())
          group.options().set_lr(lr);
      optimizer.zero_grad();
      torch::Tensor loss;
      double value = 0;
      if (share > 0) {
        torch::Tensor logits;
        {
          AutocastGuard autocast(options.precision, device.type());
          logits = forward(model, to_format(x.to(device), channels_last), sync_communicator);
        }
        // the loss in float32 at least (bfloat16 logits from autocast)
        if (logits.scalar_type() != torch::kDouble) logits = logits.to(torch::kFloat);
        loss = torch::nn::functional::cross_entropy(logits, labels.index_select(0, idx).to(device));
        value = loss.item<double>();
      }
      if (parallel) {  // the whole batch's mean loss, known to every rank before anyone steps
        torch::Tensor sum = torch::tensor({value * static_cast<double>(share)}, torch::kDouble);
        communicator->all_reduce_sum(sum, "the loss all-reduce");
        value = sum.item<double>() / static_cast<double>(batch);
      }
      // A diverged run stops before the step that would spread NaN/Inf into every weight (and
      // before on_epoch_end could save them): the last checkpoint stays the last good one.
      TORCH_CHECK(std::isfinite(value), "eqnn::train_classifier: the loss is ",
                  std::isnan(value) ? "NaN" : (value > 0 ? "+Inf" : "-Inf"), " at epoch ",
                  epoch + 1, ", step ", step + 1, " of ", steps, " (learning rate ",
                  optimizer.param_groups().front().options().get_lr(),
                  "): training diverged and was stopped; try a lower learning rate");
      // the rank's weight in the gradient sum: applied to the summed gradients, or with
      // synchronised batch norm (whose backward sums over ranks) to the loss itself
      const double weight = static_cast<double>(share) / static_cast<double>(batch);
      if (parallel) gradients->prepare(sync ? 1.0 : weight);
      if (share > 0) {
        if (sync) loss = loss * weight;
        (scaler != nullptr ? scaler->scale(loss) : loss).backward();
      }
      if (parallel) gradients->finish();
      // the summed gradients are the same on every rank, so all of them skip or step alike
      const bool finite = scaler == nullptr || scaler->unscale(model->parameters());
      if (scaler != nullptr) scaler->update(finite);
      if (finite) optimizer.step();
      total += value;
      if (options.progress) options.progress(step + 1, steps, epoch, total / (step + 1));
    }
    // (synchronised running statistics are the same on every rank already)
    if (parallel && !sync) average_running_statistics(model, *communicator);
    losses.push_back(total / static_cast<double>(steps));
    {
      torch::NoGradGuard no_grad;
      for (const auto& p : model->named_parameters())
        TORCH_CHECK(torch::isfinite(p.value()).all().item<bool>(),
                    "eqnn::train_classifier: parameter '", p.key(),
                    "' has NaN or infinite entries after epoch ", epoch + 1,
                    ": training diverged and was stopped; try a lower learning rate");
    }
    if (options.on_epoch_end) options.on_epoch_end(epoch, losses.back());
  }
  return losses;
}

double accuracy(torch::nn::Sequential& model, const torch::Tensor& images,
                const torch::Tensor& labels, int64_t batch_size,
                const std::function<torch::Tensor(const torch::Tensor&)>& transform) {
  TORCH_CHECK(images.size(0) == labels.size(0) && images.size(0) > 0,
              "eqnn::accuracy: expected as many labels as images, got ", labels.size(0), " and ",
              images.size(0));
  TORCH_CHECK(batch_size > 0, "eqnn::accuracy: batch size must be positive, got ", batch_size);
  const bool was_training = model->is_training();
  model->eval();
  const torch::Device device = device_of(model);
  int64_t correct = 0;
  {
    c10::InferenceMode inference;
    for (int64_t begin = 0; begin < images.size(0); begin += batch_size) {
      const int64_t count = std::min(batch_size, images.size(0) - begin);
      torch::Tensor x = images.narrow(0, begin, count).to(device);
      if (transform) x = transform(x);
      const torch::Tensor predicted = model->forward(to_format(x, true)).argmax(1);
      correct += (predicted == labels.narrow(0, begin, count).to(device)).sum().item<int64_t>();
    }
  }
  model->train(was_training);
  return static_cast<double>(correct) / static_cast<double>(images.size(0));
}

double accuracy(torch::nn::Sequential& model, const torch::Tensor& images,
                const torch::Tensor& labels, int64_t batch_size,
                const std::optional<std::pair<Group, int64_t>>& transform) {
  if (!transform) return accuracy(model, images, labels, batch_size, nullptr);
  // (not a structured binding: C++17 lambdas cannot capture those, and clang refuses it)
  const Group& group = transform->first;
  const int64_t element = transform->second;
  return accuracy(model, images, labels, batch_size, [&](const torch::Tensor& x) {
    return ops::group_action(x, group, {element}, FieldKind::Trivial);
  });
}

}  // namespace eqnn
