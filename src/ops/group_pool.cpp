// eqnn::group_pool: max or mean over the group axis of regular fields, in NCHW or channels_last.
// Max saves its argmax (uint8) for backward. CPU and CUDA share the index math of
// eqnn/detail/group_pool_kernel.h (group_pool_first_input, group_pool_output_of_input), not the
// loops: the CPU forward runs pool_row below (a row of outputs at a time, the loop over the group
// elements outside the one over outputs, so that it vectorises) and the CPU backward its own row
// loop; the CUDA kernels run the header's per-element functions, which the tests also run on CPU
// through the launch loop and hold to these loops.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "eqnn/ops.h"
#include "kernel_support.h"

namespace eqnn {
namespace ops {
namespace {

using detail::GroupPoolParams;
constexpr const char* kGroupPoolOp = "eqnn::group_pool";

GroupPoolParams params_for(const at::Tensor& x, int64_t order, at::MemoryFormat format) {
  return GroupPoolParams{x.size(0), x.size(1) / order, order, x.size(2) * x.size(3),
                         format == at::MemoryFormat::ChannelsLast};
}

void check_order(int64_t order, const char* pass) {
  TORCH_CHECK(order >= 1 && order <= detail::kMaxGroupOrder, kGroupPoolOp, pass,
              ": group order must be in [1, ", detail::kMaxGroupOrder, "], got ", order);
}

void check_input(const at::Tensor& x, int64_t order) {
  support::check_supported(x, kGroupPoolOp);
  TORCH_CHECK(x.dim() == 4, kGroupPoolOp, ": expected a 4-D input (B, C, H, W), got shape ",
              x.sizes());
  check_order(order, "");
  TORCH_CHECK(x.size(1) % order == 0, kGroupPoolOp, ": ", x.size(1),
              " channels are not a whole number of regular fields of ", order, " channels");
}

/// Output, argmax and the dense input for the forward pass.
struct PreparedGroupPool {
  at::Tensor x, y, argmax;
  GroupPoolParams p;
};

PreparedGroupPool prepare(const at::Tensor& x_in, int64_t order, bool max) {
  check_input(x_in, order);
  const at::MemoryFormat format = support::feature_format(x_in);
  PreparedGroupPool r;
  r.x = x_in.contiguous(format);
  r.p = params_for(r.x, order, format);
  const std::vector<int64_t> shape = {r.x.size(0), r.x.size(1) / order, r.x.size(2), r.x.size(3)};
  r.y = at::empty(shape, r.x.options().memory_format(format));
  r.argmax = max ? at::empty(shape, r.x.options().dtype(at::kByte).memory_format(format))
                 : at::empty({0}, r.x.options().dtype(at::kByte));
  return r;
}

/// One output row: `count` outputs whose |G| inputs sit at x + q * q_step + t * step. Processed in
/// chunks with the element loop outermost and branch-free selects, so the compiler vectorises the
/// inner loop. Max keeps the first maximum and lets a NaN win (torch.max semantics); compares and
/// sums in acc_t.
template <typename scalar_t, typename acc_t>
void pool_row(const scalar_t* x, scalar_t* y, uint8_t* argmax, int64_t count, int64_t q_step,
              int64_t step, int64_t order, bool max) {
  constexpr int64_t kChunk = 256;
  acc_t acc[kChunk];
  uint8_t arg[kChunk];
  for (int64_t q0 = 0; q0 < count; q0 += kChunk) {
    const int64_t n = std::min(kChunk, count - q0);
    const scalar_t* in = x + q0 * q_step;
    for (int64_t q = 0; q < n; ++q) {
      acc[q] = static_cast<acc_t>(in[q * q_step]);
      arg[q] = 0;
    }
    for (int64_t t = 1; t < order; ++t) {
      const scalar_t* it = in + t * step;
      if (max) {
        for (int64_t q = 0; q < n; ++q) {
          const acc_t v = static_cast<acc_t>(it[q * q_step]);
          const bool take = (v > acc[q]) | ((v != v) & (acc[q] == acc[q]));
          acc[q] = take ? v : acc[q];
          arg[q] = take ? static_cast<uint8_t>(t) : arg[q];
        }
      } else {
        for (int64_t q = 0; q < n; ++q)
          acc[q] += static_cast<acc_t>(it[q * q_step]);
      }
    }
    if (max) {
      for (int64_t q = 0; q < n; ++q) {
        y[q0 + q] = static_cast<scalar_t>(acc[q]);  // exact: acc holds an input value
        argmax[q0 + q] = arg[q];
      }
    } else {
      const acc_t scale = acc_t(1) / static_cast<acc_t>(order);
      for (int64_t q = 0; q < n; ++q)
        y[q0 + q] = static_cast<scalar_t>(acc[q] * scale);
    }
  }
}

std::tuple<at::Tensor, at::Tensor> group_pool_cpu(const at::Tensor& x_in, int64_t order, bool max) {
  PreparedGroupPool r = prepare(x_in, order, max);
  const GroupPoolParams& p = r.p;
  if (p.out_numel() == 0) return {r.y, r.argmax};  // empty in, empty out (rows of length 0)
  // Rows of y contiguous in memory: a plane (NCHW) or a pixel's fields (NHWC); the shared index
  // math places each row's first input.
  const int64_t row = p.channels_last ? p.fields : p.plane;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, r.x.scalar_type(), kGroupPoolOp, [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* x = r.x.data_ptr<scalar_t>();
    scalar_t* y = r.y.data_ptr<scalar_t>();
    uint8_t* argmax = max ? r.argmax.data_ptr<uint8_t>() : nullptr;
    support::cpu_for_rows(p.out_numel() / row, row, [&](int64_t rr) {
      const int64_t n0 = rr * row;
      int64_t step = 0;
      const int64_t first = detail::group_pool_first_input(p, n0, &step);
      const int64_t q_step = p.channels_last ? order : 1;
      pool_row<scalar_t, acc_t>(x + first, y + n0, max ? argmax + n0 : nullptr, row, q_step, step,
                                order, max);
    });
  });
  return {r.y, r.argmax};
}

/// grad_x for grad (B, F, H, W) in the format of the forward input.
struct PreparedGroupPoolBackward {
  at::Tensor grad, argmax, grad_x;
  GroupPoolParams p;
};

PreparedGroupPoolBackward prepare_backward(const at::Tensor& grad_in, const at::Tensor& argmax_in,
                                           int64_t order, bool max) {
  support::check_supported(grad_in, "eqnn::group_pool backward");
  TORCH_CHECK(grad_in.dim() == 4, kGroupPoolOp, " backward: expected a 4-D gradient, got ",
              grad_in.sizes());
  check_order(order, " backward");
  if (max) {
    TORCH_CHECK(
        argmax_in.defined() && argmax_in.scalar_type() == at::kByte, kGroupPoolOp,
        " backward: expected a uint8 argmax for max pooling, got ",
        argmax_in.defined() ? c10::toString(argmax_in.scalar_type()) : "an undefined tensor");
    TORCH_CHECK(argmax_in.device() == grad_in.device(), kGroupPoolOp, " backward: argmax is on ",
                argmax_in.device(), " but the gradient on ", grad_in.device());
  }
  // The forward output's format: argmax has it for max; for mean follow the gradient.
  const at::MemoryFormat format = support::feature_format(max ? argmax_in : grad_in);
  PreparedGroupPoolBackward r;
  r.grad = grad_in.contiguous(format);
  if (max) {
    TORCH_CHECK(argmax_in.sizes() == grad_in.sizes(), kGroupPoolOp, " backward: argmax shape ",
                argmax_in.sizes(), " does not match the gradient ", grad_in.sizes());
    r.argmax = argmax_in.contiguous(format);
  }
  r.grad_x = at::empty({r.grad.size(0), r.grad.size(1) * order, r.grad.size(2), r.grad.size(3)},
                       r.grad.options().memory_format(format));
  r.p = GroupPoolParams{r.grad.size(0), r.grad.size(1), order, r.grad.size(2) * r.grad.size(3),
                        format == at::MemoryFormat::ChannelsLast};
  return r;
}

at::Tensor group_pool_backward_cpu(const at::Tensor& grad_in, const at::Tensor& argmax_in,
                                   int64_t order, bool max) {
  PreparedGroupPoolBackward r = prepare_backward(grad_in, argmax_in, order, max);
  const GroupPoolParams& p = r.p;
  if (p.in_numel() == 0) return r.grad_x;
  // Rows of grad_x contiguous in memory: one element's plane (NCHW) or a pixel's channels (NHWC).
  const int64_t row = p.channels_last ? p.fields * order : p.plane;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, r.grad.scalar_type(), kGroupPoolOp, [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const scalar_t* gy = r.grad.data_ptr<scalar_t>();
        scalar_t* gx = r.grad_x.data_ptr<scalar_t>();
        const uint8_t* argmax = max ? r.argmax.data_ptr<uint8_t>() : nullptr;
        const acc_t scale = acc_t(1) / static_cast<acc_t>(order);
        support::cpu_for_rows(p.in_numel() / row, row, [&](int64_t rr) {
          const int64_t m0 = rr * row;
          int64_t t0 = 0;
          const int64_t n0 = detail::group_pool_output_of_input(p, m0, &t0);
          for (int64_t j = 0; j < row; ++j) {
            // NCHW: the row is one element t0 over a plane; NHWC: element j % order of field j /
            // order
            const int64_t n = p.channels_last ? n0 + j / order : n0 + j;
            const int64_t t = p.channels_last ? j % order : t0;
            gx[m0 + j] = max ? (argmax[n] == t ? gy[n] : scalar_t(0))
                             : static_cast<scalar_t>(static_cast<acc_t>(gy[n]) * scale);
          }
        });
      });
  return r.grad_x;
}

#ifdef EQNN_WITH_CUDA
std::tuple<at::Tensor, at::Tensor> group_pool_cuda(const at::Tensor& x_in, int64_t order,
                                                   bool max) {
  PreparedGroupPool r = prepare(x_in, order, max);
  if (r.p.out_numel() == 0) return {r.y, r.argmax};
  support::check_launch(
      detail::cuda::group_pool_forward(
          r.p, support::scalar_kind(r.x.scalar_type(), kGroupPoolOp), max, r.x.data_ptr(),
          r.y.data_ptr(), max ? r.argmax.data_ptr<uint8_t>() : nullptr, support::current_stream()),
      kGroupPoolOp);
  return {r.y, r.argmax};
}

at::Tensor group_pool_backward_cuda(const at::Tensor& grad_in, const at::Tensor& argmax_in,
                                    int64_t order, bool max) {
  PreparedGroupPoolBackward r = prepare_backward(grad_in, argmax_in, order, max);
  if (r.p.in_numel() == 0) return r.grad_x;
  support::check_launch(detail::cuda::group_pool_backward(
                            r.p, support::scalar_kind(r.grad.scalar_type(), kGroupPoolOp), max,
                            r.grad.data_ptr(), max ? r.argmax.data_ptr<uint8_t>() : nullptr,
                            r.grad_x.data_ptr(), support::current_stream()),
                        kGroupPoolOp);
  return r.grad_x;
}
#endif

std::tuple<at::Tensor, at::Tensor> call_group_pool(const at::Tensor& x, int64_t order, bool max) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("eqnn::group_pool", "")
          .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, int64_t, bool)>();
  return op.call(x, order, max);
}

at::Tensor call_group_pool_backward(const at::Tensor& grad, const at::Tensor& argmax, int64_t order,
                                    bool max) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("eqnn::group_pool_backward", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, bool)>();
  return op.call(grad, argmax, order, max);
}

struct GroupPoolFunction : public torch::autograd::Function<GroupPoolFunction> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const at::Tensor& x, int64_t order, bool max) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [y, argmax] = call_group_pool(x, order, max);
    ctx->save_for_backward({argmax});
    ctx->saved_data["order"] = order;
    ctx->saved_data["max"] = max;
    ctx->mark_non_differentiable({argmax});
    return {y, argmax};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor argmax = ctx->get_saved_variables()[0];
    return {call_group_pool_backward(grads[0], argmax, ctx->saved_data["order"].toInt(),
                                     ctx->saved_data["max"].toBool()),
            at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> group_pool_autograd(const at::Tensor& x, int64_t order,
                                                       bool max) {
  auto outputs = GroupPoolFunction::apply(x, order, max);
  return {outputs[0], outputs[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(eqnn, CPU, m) {
  m.impl("group_pool", &group_pool_cpu);
  m.impl("group_pool_backward", &group_pool_backward_cpu);
}

#ifdef EQNN_WITH_CUDA
TORCH_LIBRARY_IMPL(eqnn, CUDA, m) {
  m.impl("group_pool", &group_pool_cuda);
  m.impl("group_pool_backward", &group_pool_backward_cuda);
}
#endif

TORCH_LIBRARY_IMPL(eqnn, Autograd, m) {
  m.impl("group_pool", &group_pool_autograd);
}

torch::Tensor group_pool(const torch::Tensor& x, const Group& group, PoolMode mode) {
  return std::get<0>(call_group_pool(x, group.order(), mode == PoolMode::Max));
}

}  // namespace ops
}  // namespace eqnn
