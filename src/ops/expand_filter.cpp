// Filter expansion with a custom autograd function: forward is a gather, backward its adjoint (each
// base entry sums the |G| places it was copied to), both deterministic. CPU and CUDA run the same
// index math from eqnn/detail/expand_filter_kernel.h.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include "eqnn/detail/cuda_launch.h"
#include "eqnn/detail/expand_filter_kernel.h"
#include "eqnn/ops.h"

#if defined(EQNN_WITH_CUDA) && defined(EQNN_TORCH_HAS_CUDA)
#include <c10/cuda/CUDAStream.h>
#endif

namespace eqnn {
namespace ops {
namespace {

using detail::ExpandFilterParams;

constexpr int64_t kGrain = 4096;

#ifdef EQNN_WITH_CUDA
detail::cuda::ScalarKind scalar_kind(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return detail::cuda::ScalarKind::Float32;
    case at::kDouble:
      return detail::cuda::ScalarKind::Float64;
    case at::kHalf:
      return detail::cuda::ScalarKind::Float16;
    case at::kBFloat16:
      return detail::cuda::ScalarKind::BFloat16;
    default:
      TORCH_CHECK(false, "eqnn::ops::expand_filter: unsupported dtype ", type);
  }
}

void* current_stream() {
#ifdef EQNN_TORCH_HAS_CUDA
  return c10::cuda::getCurrentCUDAStream().stream();
#else
  return nullptr;
#endif
}
#endif

void check_cuda_built(const torch::Tensor& t) {
#ifndef EQNN_WITH_CUDA
  TORCH_CHECK(!t.is_cuda(), "eqnn::ops::expand_filter: got a CUDA tensor, but eqnn was built ",
              "without CUDA (configure with -DEQNN_WITH_CUDA=ON and a CUDA LibTorch)");
#else
  (void)t;
#endif
}

torch::Tensor gather_forward(const torch::Tensor& base, const ExpandFilterParams& p) {
  torch::Tensor expanded = torch::empty({p.expanded_numel()}, base.options());
  check_cuda_built(base);
#ifdef EQNN_WITH_CUDA
  if (base.is_cuda()) {
    const char* err = detail::cuda::expand_filter_forward(
        p, scalar_kind(base.scalar_type()), base.data_ptr(), expanded.data_ptr(), current_stream());
    TORCH_CHECK(err == nullptr, "eqnn::ops::expand_filter: CUDA kernel failed: ", err);
    return expanded;
  }
#endif
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, base.scalar_type(), "expand_filter", [&] {
        const scalar_t* src = base.data_ptr<scalar_t>();
        scalar_t* dst = expanded.data_ptr<scalar_t>();
        at::parallel_for(0, p.expanded_numel(), kGrain, [&](int64_t begin, int64_t end) {
          for (int64_t n = begin; n < end; ++n)
            dst[n] = src[detail::expand_filter_source(p, n)];
        });
      });
  return expanded;
}

torch::Tensor gather_backward(const torch::Tensor& grad_expanded, const ExpandFilterParams& p) {
  torch::Tensor grad_base = torch::empty({p.base_numel()}, grad_expanded.options());
#ifdef EQNN_WITH_CUDA
  if (grad_expanded.is_cuda()) {
    const char* err = detail::cuda::expand_filter_backward(
        p, scalar_kind(grad_expanded.scalar_type()), grad_expanded.data_ptr(), grad_base.data_ptr(),
        current_stream());
    TORCH_CHECK(err == nullptr, "eqnn::ops::expand_filter backward: CUDA kernel failed: ", err);
    return grad_base;
  }
#endif
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, grad_expanded.scalar_type(), "expand_filter_backward", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const scalar_t* src = grad_expanded.data_ptr<scalar_t>();
        scalar_t* dst = grad_base.data_ptr<scalar_t>();
        at::parallel_for(0, p.base_numel(), kGrain, [&](int64_t begin, int64_t end) {
          for (int64_t n = begin; n < end; ++n) {
            acc_t sum = acc_t(0);
            for (int t = 0; t < p.group.order; ++t)
              sum += static_cast<acc_t>(src[detail::expand_filter_destination(p, n, t)]);
            dst[n] = static_cast<scalar_t>(sum);
          }
        });
      });
  return grad_base;
}

ExpandFilterParams make_params(const Group& group, int64_t out_fields, int64_t in_fields,
                               int64_t in_order, int64_t kernel_size) {
  return ExpandFilterParams{group.tables(), out_fields, in_fields, in_order, kernel_size};
}

struct ExpandFilterFunction : public torch::autograd::Function<ExpandFilterFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& weight,
                               const Group& group, bool lifting) {
    const int64_t k = weight.size(-1);
    const int64_t in_order = lifting ? 1 : group.order();
    const ExpandFilterParams p = make_params(group, weight.size(0), weight.size(1), in_order, k);
    ctx->saved_data["out_fields"] = p.out_fields;
    ctx->saved_data["in_fields"] = p.in_fields;
    ctx->saved_data["in_order"] = p.in_order;
    ctx->saved_data["kernel_size"] = k;
    ctx->saved_data["weight_shape"] = weight.sizes().vec();
    ctx->saved_data["group"] = group.name();
    const torch::Tensor expanded = gather_forward(weight.contiguous(), p);
    return expanded.view({p.out_fields * group.order(), p.in_fields * in_order, k, k});
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const Group group = Group::from_name(ctx->saved_data["group"].toStringRef());
    const ExpandFilterParams p = make_params(
        group, ctx->saved_data["out_fields"].toInt(), ctx->saved_data["in_fields"].toInt(),
        ctx->saved_data["in_order"].toInt(), ctx->saved_data["kernel_size"].toInt());
    torch::Tensor grad_base = gather_backward(grads[0].contiguous(), p);
    const auto shape = ctx->saved_data["weight_shape"].toIntVector();
    return {grad_base.view(shape), torch::Tensor(), torch::Tensor()};
  }
};

void check_weight(const torch::Tensor& weight, int64_t rank, const Group& group, const char* who) {
  TORCH_CHECK(weight.defined() && weight.dim() == rank, who, ": expected a ", rank,
              "-D weight, got shape ", weight.defined() ? weight.sizes() : at::IntArrayRef{});
  TORCH_CHECK(weight.is_floating_point(), who, ": expected a floating-point weight, got ",
              weight.scalar_type());
  TORCH_CHECK(weight.size(-1) == weight.size(-2), who, ": expected square filters, got ",
              weight.size(-2), "x", weight.size(-1));
  if (rank == 5) {
    TORCH_CHECK(weight.size(2) == group.order(), who,
                ": expected the weight's group axis (dim 2) to ", "have |", group.name(),
                "| = ", group.order(), " entries, got shape ", weight.sizes());
  }
}

}  // namespace

torch::Tensor expand_lifting_filter(const torch::Tensor& weight, const Group& group) {
  check_weight(weight, 4, group, "eqnn::ops::expand_lifting_filter");
  return ExpandFilterFunction::apply(weight, group, true);
}

torch::Tensor expand_group_filter(const torch::Tensor& weight, const Group& group) {
  check_weight(weight, 5, group, "eqnn::ops::expand_group_filter");
  return ExpandFilterFunction::apply(weight, group, false);
}

torch::Tensor expand_bias(const torch::Tensor& bias, const Group& group) {
  TORCH_CHECK(bias.defined() && bias.dim() == 1,
              "eqnn::ops::expand_bias: expected a 1-D bias, got ",
              bias.defined() ? bias.sizes() : at::IntArrayRef{});
  return bias.unsqueeze(1).expand({bias.size(0), group.order()}).reshape({-1});
}

}  // namespace ops
}  // namespace eqnn
