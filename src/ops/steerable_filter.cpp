// eqnn::steerable_filter: steerable coefficients and the basis sampled for every group element ->
// the expanded filter bank a plain conv2d uses; backward: the gradient of the coefficients (the
// basis is a constant). CUDA runs the element functions of eqnn/detail/steerable_filter_kernel.h;
// the CPU paths run the same sums in the same order by rows (below). Deterministic (fixed
// summation order, no atomics).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "eqnn/ops.h"
#include "expand_parameters.h"
#include "kernel_support.h"

namespace eqnn {
namespace ops {
namespace {

using detail::SteerableFilterParams;
constexpr const char* kSteerableFilterOp = "eqnn::steerable_filter";

/// Coefficients (Cout, Cin, nb) (lifting) or (Cout, Cin, |G|, nb) (group), a basis (|G|, nb, k, k),
/// and every count the kernels multiply within int64.
SteerableFilterParams params_for(const Group& group, at::IntArrayRef coefficients,
                                 at::IntArrayRef basis, const char* pass) {
  TORCH_CHECK(coefficients.size() == 3 || coefficients.size() == 4, kSteerableFilterOp, pass,
              ": expected coefficients (Cout, Cin, nb) for a lifting filter or (Cout, Cin, |G|, ",
              "nb) for a group filter, got shape ", coefficients);
  TORCH_CHECK(basis.size() == 4 && basis[2] == basis[3], kSteerableFilterOp, pass,
              ": expected a sampled basis (|G|, nb, k, k), got shape ", basis);
  for (const int64_t d : coefficients)
    TORCH_CHECK(d >= 0, kSteerableFilterOp, pass, ": coefficient sizes must be >= 0, got shape ",
                coefficients);
  const bool lifting = coefficients.size() == 3;
  TORCH_CHECK(basis[0] == group.order(), kSteerableFilterOp, pass, ": the basis has ", basis[0],
              " element samples, but |", group.name(), "| = ", group.order());
  TORCH_CHECK(coefficients.back() == basis[1], kSteerableFilterOp, pass, ": coefficients for ",
              coefficients.back(), " basis functions, but the basis has ", basis[1]);
  TORCH_CHECK(lifting || coefficients[2] == group.order(), kSteerableFilterOp, pass,
              ": expected the coefficients' group axis (dim 2) to have |", group.name(),
              "| = ", group.order(), " entries, got shape ", coefficients);
  int64_t numel = group.order() * basis[2] * basis[3];
  for (size_t d = 0; d + 1 < coefficients.size(); ++d)
    TORCH_CHECK(!__builtin_mul_overflow(numel, coefficients[d], &numel), kSteerableFilterOp, pass,
                ": coefficient shape ", coefficients, " is too large: its expanded bank over ",
                group.name(), " has more than 2^63 entries");
  return SteerableFilterParams{group.tables(),  coefficients[0],
                               coefficients[1], lifting ? 1 : group.order(),
                               basis[1],        basis[2]};
}

void check_basis_tensor(const at::Tensor& basis, const at::Tensor& other, const char* pass) {
  support::check_supported(basis, kSteerableFilterOp);
  TORCH_CHECK(basis.scalar_type() == other.scalar_type() && basis.device() == other.device(),
              kSteerableFilterOp, pass, ": the basis (", basis.scalar_type(), " on ",
              basis.device(), ") must have the dtype and device of the filter (",
              other.scalar_type(), " on ", other.device(), ")");
}

std::vector<int64_t> expanded_shape(const SteerableFilterParams& p) {
  return {p.out_fields * p.group.order, p.in_fields * p.in_order, p.kernel_size, p.kernel_size};
}

struct PreparedSteerableFilter {
  at::Tensor in, basis, out;
  SteerableFilterParams p;
};

PreparedSteerableFilter prepare_forward(const at::Tensor& coefficients, const at::Tensor& basis,
                                        c10::string_view group_name) {
  const Group group = Group::from_name(std::string(group_name));
  support::check_supported(coefficients, kSteerableFilterOp);
  check_basis_tensor(basis, coefficients, "");
  PreparedSteerableFilter r;
  r.p = params_for(group, coefficients.sizes(), basis.sizes(), "");
  r.in = coefficients.contiguous();
  r.basis = basis.contiguous();
  r.out = at::empty(expanded_shape(r.p), r.in.options());
  return r;
}

PreparedSteerableFilter prepare_backward(const at::Tensor& grad, const at::Tensor& basis,
                                         c10::string_view group_name,
                                         at::IntArrayRef coefficient_shape) {
  const Group group = Group::from_name(std::string(group_name));
  support::check_supported(grad, kSteerableFilterOp);
  check_basis_tensor(basis, grad, " backward");
  PreparedSteerableFilter r;
  r.p = params_for(group, coefficient_shape, basis.sizes(), " backward");
  const std::vector<int64_t> expected = expanded_shape(r.p);
  TORCH_CHECK(grad.sizes() == at::IntArrayRef(expected), kSteerableFilterOp,
              " backward: expected a gradient of the expanded bank's shape ",
              at::IntArrayRef(expected), " for coefficient shape ", coefficient_shape, ", got ",
              grad.sizes());
  r.in = grad.contiguous();
  r.basis = basis.contiguous();
  r.out = at::empty(coefficient_shape, r.in.options());
  return r;
}

// The CPU paths work on rows of one k x k plane and run the sums of
// detail::steerable_filter_{forward,backward}_element in the same order for every entry (so their
// bits are those of the per-thread bodies run on the CPU, as the tests check; nvcc contracts the
// products into FMAs, so a GPU's last bits can differ), but take the row's indices once instead of
// per entry, and read each basis plane once per row (forward) and each gradient plane once per
// element t (backward) instead of once per entry or coefficient.

at::Tensor steerable_filter_cpu(const at::Tensor& coefficients, const at::Tensor& basis,
                                c10::string_view group) {
  PreparedSteerableFilter r = prepare_forward(coefficients, basis, group);
  const SteerableFilterParams& p = r.p;
  const int64_t plane = p.plane(), order = p.group.order, nb = p.basis_size;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, r.in.scalar_type(), kSteerableFilterOp, [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const scalar_t* c = r.in.data_ptr<scalar_t>();
        const scalar_t* b = r.basis.data_ptr<scalar_t>();
        scalar_t* out = r.out.data_ptr<scalar_t>();
        // rows (o, t, i, s) of the expanded bank: tw[o, t, i, s] = sum_j c[o, i, src, j] B[t, j]
        const int64_t rows = p.out_fields * order * p.in_fields * p.in_order;
        // idx(h_t^-1 h_s) for every (t, s), and the row's (o, t, i, s) advanced in place: the
        // divisions of the index math once per chunk, not per row
        std::vector<int64_t> source_of(static_cast<size_t>(order * p.in_order), 0);
        if (p.in_order > 1)
          for (int t = 0; t < order; ++t)
            for (int u = 0; u < order; ++u)
              source_of[static_cast<size_t>(t * order + u)] = p.group.left_divide(t, u);
        support::cpu_for_row_ranges(rows, plane * nb, [&](int64_t begin, int64_t end) {
          std::vector<acc_t> sum(static_cast<size_t>(plane));
          support::RowCounter row({p.out_fields, order, p.in_fields, p.in_order}, begin);
          for (int64_t n = begin; n < end; ++n, row.advance()) {
            const int64_t o = row[0], t = row[1], i = row[2], s = row[3];
            const int64_t source = source_of[static_cast<size_t>(t * p.in_order + s)];
            const scalar_t* cr = c + ((o * p.in_fields + i) * p.in_order + source) * nb;
            const scalar_t* bt = b + t * nb * plane;
            std::fill(sum.begin(), sum.end(), acc_t(0));
            for (int64_t j = 0; j < nb; ++j) {
              const acc_t cj = static_cast<acc_t>(cr[j]);
              const scalar_t* bj = bt + j * plane;
              for (int64_t q = 0; q < plane; ++q)
                sum[static_cast<size_t>(q)] += cj * static_cast<acc_t>(bj[q]);
            }
            scalar_t* to = out + n * plane;
            for (int64_t q = 0; q < plane; ++q)
              to[q] = static_cast<scalar_t>(sum[static_cast<size_t>(q)]);
          }
        });
      });
  return r.out;
}

at::Tensor steerable_filter_backward_cpu(const at::Tensor& grad, const at::Tensor& basis,
                                         c10::string_view group,
                                         at::IntArrayRef coefficient_shape) {
  PreparedSteerableFilter r = prepare_backward(grad, basis, group, coefficient_shape);
  const SteerableFilterParams& p = r.p;
  const int64_t plane = p.plane(), order = p.group.order, nb = p.basis_size;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, r.in.scalar_type(), kSteerableFilterOp, [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const scalar_t* g = r.in.data_ptr<scalar_t>();
        const scalar_t* b = r.basis.data_ptr<scalar_t>();
        scalar_t* out = r.out.data_ptr<scalar_t>();
        // rows (o, i, u) of the coefficients, nb each: dc[o, i, u, j] sums over t, then over the
        // plane, dtw[o, t, i, idx(h_t h_u)] B[t, j]
        const int64_t rows = p.out_fields * p.in_fields * p.in_order;
        // idx(h_t h_u) for every (t, u); the row's (o, i, u) advanced in place
        std::vector<int64_t> composed(static_cast<size_t>(order * p.in_order), 0);
        if (p.in_order > 1)
          for (int t = 0; t < order; ++t)
            for (int u = 0; u < order; ++u)
              composed[static_cast<size_t>(t * order + u)] = p.group.compose(t, u);
        support::cpu_for_row_ranges(rows, plane * nb * order, [&](int64_t begin, int64_t end) {
          std::vector<acc_t> sum(static_cast<size_t>(nb));
          support::RowCounter row({p.out_fields, p.in_fields, p.in_order}, begin);
          for (int64_t m = begin; m < end; ++m, row.advance()) {
            const int64_t o = row[0], i = row[1], u = row[2];
            std::fill(sum.begin(), sum.end(), acc_t(0));
            for (int t = 0; t < order; ++t) {
              const int64_t s = composed[static_cast<size_t>(t * p.in_order + u)];
              const scalar_t* gr =
                  g + (((o * order + t) * p.in_fields + i) * p.in_order + s) * plane;
              const scalar_t* bt = b + t * nb * plane;
              // each sum[j] still adds over t, then q, in ascending order
              for (int64_t q = 0; q < plane; ++q) {
                const acc_t gq = static_cast<acc_t>(gr[q]);
                for (int64_t j = 0; j < nb; ++j)
                  sum[static_cast<size_t>(j)] += gq * static_cast<acc_t>(bt[j * plane + q]);
              }
            }
            for (int64_t j = 0; j < nb; ++j)
              out[m * nb + j] = static_cast<scalar_t>(sum[static_cast<size_t>(j)]);
          }
        });
      });
  return r.out;
}

#ifdef EQNN_WITH_CUDA
at::Tensor steerable_filter_cuda(const at::Tensor& coefficients, const at::Tensor& basis,
                                 c10::string_view group) {
  PreparedSteerableFilter r = prepare_forward(coefficients, basis, group);
  if (r.p.expanded_numel() == 0) return r.out;
  support::check_launch(
      detail::cuda::steerable_filter_forward(
          r.p, support::scalar_kind(r.in.scalar_type(), kSteerableFilterOp), r.in.data_ptr(),
          r.basis.data_ptr(), r.out.data_ptr(), support::current_stream()),
      kSteerableFilterOp);
  return r.out;
}

at::Tensor steerable_filter_backward_cuda(const at::Tensor& grad, const at::Tensor& basis,
                                          c10::string_view group,
                                          at::IntArrayRef coefficient_shape) {
  PreparedSteerableFilter r = prepare_backward(grad, basis, group, coefficient_shape);
  if (r.p.coefficient_numel() == 0) return r.out;
  support::check_launch(
      detail::cuda::steerable_filter_backward(
          r.p, support::scalar_kind(r.in.scalar_type(), kSteerableFilterOp), r.in.data_ptr(),
          r.basis.data_ptr(), r.out.data_ptr(), support::current_stream()),
      kSteerableFilterOp);
  return r.out;
}
#endif

using ForwardSignature = at::Tensor(const at::Tensor&, const at::Tensor&, c10::string_view);
using BackwardSignature = at::Tensor(const at::Tensor&, const at::Tensor&, c10::string_view,
                                     at::IntArrayRef);

at::Tensor call_steerable_filter(const at::Tensor& coefficients, const at::Tensor& basis,
                                 c10::string_view group) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("eqnn::steerable_filter", "")
                       .typed<ForwardSignature>();
  return op.call(coefficients, basis, group);
}

at::Tensor call_steerable_filter_backward(const at::Tensor& grad, const at::Tensor& basis,
                                          c10::string_view group,
                                          at::IntArrayRef coefficient_shape) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("eqnn::steerable_filter_backward", "")
                       .typed<BackwardSignature>();
  return op.call(grad, basis, group, coefficient_shape);
}

struct SteerableFilterFunction : public torch::autograd::Function<SteerableFilterFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& coefficients,
                            const at::Tensor& basis, c10::string_view group) {
    TORCH_CHECK(!basis.requires_grad(), kSteerableFilterOp,
                ": the basis is a constant (a buffer); it cannot require a gradient");
    ctx->saved_data["group"] = std::string(group);
    ctx->saved_data["coefficient_shape"] = coefficients.sizes().vec();
    ctx->save_for_backward({basis});
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_steerable_filter(coefficients, basis, group);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor basis = ctx->get_saved_variables()[0];
    const std::vector<int64_t> shape = ctx->saved_data["coefficient_shape"].toIntVector();
    return {call_steerable_filter_backward(grads[0], basis, ctx->saved_data["group"].toStringRef(),
                                           shape),
            at::Tensor(), at::Tensor()};
  }
};

at::Tensor steerable_filter_autograd(const at::Tensor& coefficients, const at::Tensor& basis,
                                     c10::string_view group) {
  return SteerableFilterFunction::apply(coefficients, basis, group);
}

}  // namespace

TORCH_LIBRARY_IMPL(eqnn, CPU, m) {
  m.impl("steerable_filter", &steerable_filter_cpu);
  m.impl("steerable_filter_backward", &steerable_filter_backward_cpu);
}

#ifdef EQNN_WITH_CUDA
TORCH_LIBRARY_IMPL(eqnn, CUDA, m) {
  m.impl("steerable_filter", &steerable_filter_cuda);
  m.impl("steerable_filter_backward", &steerable_filter_backward_cuda);
}
#endif

TORCH_LIBRARY_IMPL(eqnn, Autograd, m) {
  m.impl("steerable_filter", &steerable_filter_autograd);
}

torch::Tensor expand_steerable_filter(const torch::Tensor& coefficients, const torch::Tensor& basis,
                                      const Group& group) {
  TORCH_CHECK(coefficients.defined() && basis.defined(), kSteerableFilterOp,
              ": expected defined coefficient and basis tensors");
  return call_steerable_filter(coefficients, basis, group.name());
}

namespace internal {
namespace {

/// SteerableFilterFunction and the bias expansion in one node, the CPU kernels called directly.
struct SteerableFilterAndBiasFunction
    : public torch::autograd::Function<SteerableFilterAndBiasFunction> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const at::Tensor& coefficients,
                                                const at::Tensor& basis, const at::Tensor& bias,
                                                const Group& group) {
    TORCH_CHECK(!basis.requires_grad(), kSteerableFilterOp,
                ": the basis is a constant (a buffer); it cannot require a gradient");
    ctx->saved_data["group"] = group.name();
    ctx->saved_data["coefficient_shape"] = coefficients.sizes().vec();
    ctx->saved_data["order"] = static_cast<int64_t>(group.order());
    ctx->save_for_backward({basis});
    at::AutoDispatchBelowADInplaceOrView guard;
    return {coefficients.is_cpu() ? steerable_filter_cpu(coefficients, basis, group.name())
                                  : call_steerable_filter(coefficients, basis, group.name()),
            repeat_fields(bias, group.order())};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    at::Tensor grad_coefficients, grad_bias;
    if (grads[0].defined()) {
      const at::Tensor basis = ctx->get_saved_variables()[0];
      const std::string& group = ctx->saved_data["group"].toStringRef();
      const std::vector<int64_t> shape = ctx->saved_data["coefficient_shape"].toIntVector();
      grad_coefficients = grads[0].is_cpu()
                              ? steerable_filter_backward_cpu(grads[0], basis, group, shape)
                              : call_steerable_filter_backward(grads[0], basis, group, shape);
    }
    if (grads[1].defined()) grad_bias = sum_fields(grads[1], ctx->saved_data["order"].toInt());
    return {grad_coefficients, at::Tensor(), grad_bias, at::Tensor()};
  }
};

}  // namespace

std::pair<torch::Tensor, torch::Tensor> expand_steerable_filter_and_bias(
    const torch::Tensor& coefficients, const torch::Tensor& basis, const torch::Tensor& bias,
    const Group& group) {
  TORCH_CHECK(coefficients.defined() && basis.defined(), kSteerableFilterOp,
              ": expected defined coefficient and basis tensors");
  check_bias(bias);
  const torch::autograd::variable_list out =
      SteerableFilterAndBiasFunction::apply(coefficients, basis, bias, group);
  return {out[0], out[1]};
}

}  // namespace internal

}  // namespace ops
}  // namespace eqnn
