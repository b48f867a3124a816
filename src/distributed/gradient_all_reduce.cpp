#include "eqnn/distributed/gradient_all_reduce.h"

#include <c10/util/Exception.h>

#include <chrono>

namespace eqnn {
namespace distributed {

GradientAllReduce::GradientAllReduce(const std::vector<torch::Tensor>& parameters,
                                     std::shared_ptr<Communicator> communicator,
                                     int64_t bucket_bytes)
    : communicator_(std::move(communicator)) {
  TORCH_CHECK(communicator_ != nullptr, "eqnn::distributed::GradientAllReduce: no communicator");
  TORCH_CHECK(bucket_bytes > 0,
              "eqnn::distributed::GradientAllReduce: bucket_bytes must be "
              "positive, got ",
              bucket_bytes);
  for (const torch::Tensor& p : parameters)
    if (p.requires_grad()) {
      TORCH_CHECK(p.device().is_cpu() && p.is_floating_point(),
                  "eqnn::distributed::GradientAllReduce: expected floating-point CPU parameters "
                  "(Gloo), got one of ",
                  p.dtype(), " on ", p.device());
      parameters_.push_back(p);
    }
  bucket_of_.resize(parameters_.size());
  slot_of_.resize(parameters_.size());
  arrived_.assign(parameters_.size(), false);
  // buckets in the reverse order of the parameters, where the backward pass starts
  int64_t bytes = 0;
  for (size_t k = parameters_.size(); k-- > 0;) {
    const torch::Tensor& p = parameters_[k];
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    if (buckets_.empty() || bytes >= bucket_bytes ||
        parameters_[buckets_.back().parameters.front()].scalar_type() != p.scalar_type()) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    b.offsets.push_back(
        b.parameters.empty() ? 0 : b.offsets.back() + parameters_[b.parameters.back()].numel());
    slot_of_[k] = b.parameters.size();
    b.parameters.push_back(k);
    bucket_of_[k] = buckets_.size() - 1;
    bytes += size;
  }
  for (Bucket& b : buckets_) {
    const torch::Tensor& last = parameters_[b.parameters.back()];
    b.buffer = torch::zeros({b.offsets.back() + last.numel()}, last.options().requires_grad(false));
  }
  for (size_t k = 0; k < parameters_.size(); ++k)
    hooks_.push_back(parameters_[k].register_hook(
        [this, k](const torch::Tensor& gradient) { on_gradient(k, gradient); }));
}

GradientAllReduce::~GradientAllReduce() {
  for (size_t k = 0; k < parameters_.size(); ++k)
    parameters_[k].remove_hook(hooks_[k]);
  // all-reduces still in flight (an exception between prepare and finish) must end before their
  // buffers go
  for (Bucket& b : buckets_)
    try {
      b.pending.wait();
    } catch (...) {
    }
}

void GradientAllReduce::prepare(double weight) {
  TORCH_CHECK(!active_, "eqnn::distributed::GradientAllReduce: prepare() twice without finish()");
  weight_ = weight;
  active_ = true;
  next_bucket_ = 0;
  std::fill(arrived_.begin(), arrived_.end(), false);
  for (Bucket& b : buckets_)
    b.ready = 0;
}

void GradientAllReduce::on_gradient(size_t k, const torch::Tensor& gradient) {
  if (!active_ || arrived_[k]) return;  // a backward pass outside a step
  Bucket& b = buckets_[bucket_of_[k]];
  const torch::Tensor& p = parameters_[k];
  torch::Tensor slice = b.buffer.narrow(0, b.offsets[slot_of_[k]], p.numel()).view(p.sizes());
  torch::NoGradGuard no_grad;
  torch::mul_out(slice, gradient, weight_);
  arrived_[k] = true;
  if (++b.ready == b.parameters.size()) start_ready_buckets();
}

void GradientAllReduce::start_ready_buckets() {
  while (next_bucket_ < buckets_.size() &&
         buckets_[next_bucket_].ready == buckets_[next_bucket_].parameters.size()) {
    Bucket& b = buckets_[next_bucket_];
    b.pending = communicator_->all_reduce_sum_async(
        b.buffer, "the gradient all-reduce (bucket " + std::to_string(next_bucket_) + ")");
    ++next_bucket_;
  }
}

void GradientAllReduce::finish() {
  TORCH_CHECK(active_, "eqnn::distributed::GradientAllReduce: finish() without prepare()");
  active_ = false;
  // gradients that never came (a rank without samples, unused parameters) count as 0
  for (Bucket& b : buckets_)
    if (b.ready < b.parameters.size()) {
      for (size_t slot = 0; slot < b.parameters.size(); ++slot)
        if (!arrived_[b.parameters[slot]])
          b.buffer.narrow(0, b.offsets[slot], parameters_[b.parameters[slot]].numel()).zero_();
      b.ready = b.parameters.size();
    }
  start_ready_buckets();
  const auto begin = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_)
    b.pending.wait();
  seconds_waiting_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  torch::NoGradGuard no_grad;
  for (Bucket& b : buckets_)
    for (size_t slot = 0; slot < b.parameters.size(); ++slot) {
      torch::Tensor& p = parameters_[b.parameters[slot]];
      const torch::Tensor sum = b.buffer.narrow(0, b.offsets[slot], p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(sum);
      else
        p.mutable_grad() = sum.clone();
    }
}

}  // namespace distributed
}  // namespace eqnn
