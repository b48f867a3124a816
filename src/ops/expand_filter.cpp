// eqnn::expand_filter: base filters -> the expanded filter bank a plain conv2d uses. Forward is a
// gather, backward its adjoint (each base entry sums the |G| places it was copied to),
// deterministic. CUDA runs the element functions of eqnn/detail/expand_filter_kernel.h; the CPU
// paths gather whole rows through offset tables built by those same functions. Tests hold both
// to the per-thread bodies bit for bit, the forward also to an ATen composition bit for bit and
// the backward to autograd through it within rounding (tests/kernel_test.cpp).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "eqnn/ops.h"
#include "expand_parameters.h"
#include "kernel_support.h"

namespace eqnn {
namespace ops {
namespace {

using detail::ExpandFilterParams;
constexpr const char* kExpandFilterOp = "eqnn::expand_filter";

ExpandFilterParams params_for(const Group& group, at::IntArrayRef weight_shape) {
  TORCH_CHECK(
      group.is_grid_group(), kExpandFilterOp, ": ", group.name(),
      " rotates by angles that are not multiples of 90 degrees, so a pixel filter cannot ",
      "be rotated exactly; its layers use steerable filters (eqnn::ops::expand_steerable_filter)");
  const bool lifting = weight_shape.size() == 4;
  return ExpandFilterParams{group.tables(), weight_shape[0], weight_shape[1],
                            lifting ? 1 : group.order(), weight_shape.back()};
}

/// A weight shape the kernels can index: rank 4 (lifting) or 5 (group), square filters, the
/// group axis of |G| entries, sizes >= 0, and the expanded bank's entry count within int64 (the
/// kernels' index math is int64). The backward pass gets the shape as an int[] argument (from
/// TorchScript, any list), so it is checked here and not only through a tensor's sizes.
void check_weight_shape(at::IntArrayRef shape, const Group& group, bool lifting, const char* pass) {
  const size_t rank = lifting ? 4 : 5;
  TORCH_CHECK(shape.size() == rank, kExpandFilterOp, pass, ": expected a ", rank, "-D ",
              lifting ? "lifting" : "group", " weight, got shape ", shape);
  for (const int64_t d : shape)
    TORCH_CHECK(d >= 0, kExpandFilterOp, pass, ": weight sizes must be >= 0, got shape ", shape);
  TORCH_CHECK(shape[rank - 1] == shape[rank - 2], kExpandFilterOp, pass,
              ": expected square filters, got ", shape[rank - 2], "x", shape[rank - 1]);
  TORCH_CHECK(lifting || shape[2] == group.order(), kExpandFilterOp, pass,
              ": expected the weight's group axis (dim 2) to have |", group.name(),
              "| = ", group.order(), " entries, got shape ", shape);
  int64_t numel = group.order();
  for (const int64_t d : shape)
    TORCH_CHECK(!__builtin_mul_overflow(numel, d, &numel), kExpandFilterOp, pass, ": weight shape ",
                shape, " is too large: its expanded bank over ", group.name(),
                " has more than 2^63 entries");
}

void check_weight(const at::Tensor& weight, const Group& group, bool lifting) {
  support::check_supported(weight, kExpandFilterOp);
  check_weight_shape(weight.sizes(), group, lifting, "");
}

std::vector<int64_t> expanded_shape(const ExpandFilterParams& p) {
  return {p.out_fields * p.group.order, p.in_fields * p.in_order, p.kernel_size, p.kernel_size};
}

/// Dense input, freshly allocated output and parameters of one pass (shared by CPU and CUDA).
struct PreparedExpandFilter {
  at::Tensor in, out;
  ExpandFilterParams p;
};

PreparedExpandFilter prepare_forward(const at::Tensor& weight, c10::string_view group_name,
                                     bool lifting) {
  const Group group = Group::from_name(std::string(group_name));
  check_weight(weight, group, lifting);
  PreparedExpandFilter r;
  r.in = weight.contiguous();
  r.p = params_for(group, r.in.sizes());
  r.out = at::empty(expanded_shape(r.p), r.in.options());
  return r;
}

PreparedExpandFilter prepare_backward(const at::Tensor& grad, c10::string_view group_name,
                                      at::IntArrayRef weight_shape) {
  const Group group = Group::from_name(std::string(group_name));
  support::check_supported(grad, "eqnn::expand_filter backward");
  TORCH_CHECK(weight_shape.size() == 4 || weight_shape.size() == 5, kExpandFilterOp,
              " backward: expected the shape of a 4-D (lifting) or 5-D (group) weight, got ",
              weight_shape);
  check_weight_shape(weight_shape, group, weight_shape.size() == 4, " backward");
  PreparedExpandFilter r;
  r.in = grad.contiguous();
  r.p = params_for(group, weight_shape);
  const std::vector<int64_t> expected = expanded_shape(r.p);
  TORCH_CHECK(r.in.sizes() == at::IntArrayRef(expected), kExpandFilterOp,
              " backward: expected a gradient of the expanded bank's shape ",
              at::IntArrayRef(expected), " for weight shape ", weight_shape, ", got ",
              r.in.sizes());
  r.out = at::empty(weight_shape, r.in.options());
  return r;
}

/// The CPU paths walk the banks in rows: a forward row is the (|Hin|, k, k) block of one (o, t, i)
/// of the expanded bank, a backward row the same block of one (o, i) of the base. Within a row the
/// offsets on the other side depend only on t, so they are tabulated once per call with the shared
/// index math (entries with o = i = 0) and each row is a plain gather with no index arithmetic.
struct RowTables {
  int64_t row;                   // |Hin| * k * k
  std::vector<int64_t> offsets;  // [t][j], j < row
};

/// Forward (backward = false): expanded row (o, t, i) entry j reads base row (o, i) entry
/// offsets[t][j]. Backward: base row (o, i) entry j was copied to expanded row (o, t, i) entry
/// offsets[t][j]. The offsets depend only on the group, |Hin| and k (not on the numbers of
/// fields): built once per process for each, since building them (index math with a dozen
/// divisions per entry) took longer than the gather itself on the banks of small layers.
const RowTables& row_tables(const ExpandFilterParams& p, bool backward) {
  using Key = std::tuple<int, int, int64_t, int64_t, bool>;
  static std::mutex mutex;
  static std::map<Key, std::unique_ptr<const RowTables>> cache;  // never erased: stable entries
  const Key key{p.group.rotations, p.group.mirrors, p.in_order, p.kernel_size, backward};
  const std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<const RowTables>& entry = cache[key];
  if (entry) return *entry;
  ExpandFilterParams one = p;  // o = i = 0 only: one field each way gives the same offsets
  one.out_fields = one.in_fields = 1;
  auto r = std::make_unique<RowTables>();
  r->row = one.in_order * one.kernel_size * one.kernel_size;
  const int64_t per_out_field = r->row;  // the offset of expanded row (0, 1, 0)
  r->offsets.resize(static_cast<size_t>(one.group.order * r->row));
  for (int t = 0; t < one.group.order; ++t)
    for (int64_t j = 0; j < r->row; ++j)
      r->offsets[static_cast<size_t>(t * r->row + j)] =
          backward ? detail::expand_filter_destination(one, j, t) - t * per_out_field
                   : detail::expand_filter_source(one, t * per_out_field + j);
  entry = std::move(r);
  return *entry;
}

at::Tensor expand_filter_cpu(const at::Tensor& weight_in, c10::string_view group_name,
                             bool lifting) {
  const PreparedExpandFilter r = prepare_forward(weight_in, group_name, lifting);
  const ExpandFilterParams& p = r.p;
  const at::Tensor& weight = r.in;
  at::Tensor expanded = r.out;
  if (p.expanded_numel() == 0) return expanded;  // e.g. 0x0 filters: an empty bank
  const RowTables& tables = row_tables(p, /*backward=*/false);
  const int64_t row = tables.row, order = p.group.order;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, weight.scalar_type(), kExpandFilterOp, [&] {
        const scalar_t* src = weight.data_ptr<scalar_t>();
        scalar_t* dst = expanded.data_ptr<scalar_t>();
        // rows (o, t, i) in the expanded bank's order
        const int64_t rows = p.out_fields * order * p.in_fields;
        support::cpu_for_row_ranges(rows, row, [&](int64_t begin, int64_t end) {
          support::RowCounter at({p.out_fields, order, p.in_fields}, begin);
          for (int64_t n = begin; n < end; ++n, at.advance()) {
            const int64_t o = at[0], t = at[1], i = at[2];
            const scalar_t* from = src + (o * p.in_fields + i) * row;
            const int64_t* offsets = tables.offsets.data() + t * row;
            scalar_t* to = dst + n * row;
            for (int64_t j = 0; j < row; ++j)
              to[j] = from[offsets[j]];
          }
        });
      });
  return expanded;
}

at::Tensor expand_filter_backward_cpu(const at::Tensor& grad_in, c10::string_view group_name,
                                      at::IntArrayRef weight_shape) {
  const PreparedExpandFilter r = prepare_backward(grad_in, group_name, weight_shape);
  const ExpandFilterParams& p = r.p;
  const at::Tensor& grad = r.in;
  at::Tensor grad_base = r.out;
  if (p.base_numel() == 0) return grad_base;
  const RowTables& tables = row_tables(p, /*backward=*/true);
  const int64_t row = tables.row, order = p.group.order;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, grad.scalar_type(), kExpandFilterOp, [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const scalar_t* src = grad.data_ptr<scalar_t>();
        scalar_t* dst = grad_base.data_ptr<scalar_t>();
        // rows (o, i) of the base; each entry sums its |G| copies over t = 0, 1, ... in acc_t, the
        // order of detail::expand_filter_backward_element, so the bits are its per-thread body's
        const int64_t rows = p.out_fields * p.in_fields;
        support::cpu_for_row_ranges(rows, row * order, [&](int64_t begin, int64_t end) {
          std::vector<acc_t> sum(static_cast<size_t>(row));
          support::RowCounter at({p.out_fields, p.in_fields}, begin);
          for (int64_t n = begin; n < end; ++n, at.advance()) {
            const int64_t o = at[0], i = at[1];
            std::fill(sum.begin(), sum.end(), acc_t(0));
            for (int64_t t = 0; t < order; ++t) {
              const scalar_t* from = src + ((o * order + t) * p.in_fields + i) * row;
              const int64_t* offsets = tables.offsets.data() + t * row;
              for (int64_t j = 0; j < row; ++j)
                sum[static_cast<size_t>(j)] += static_cast<acc_t>(from[offsets[j]]);
            }
            scalar_t* to = dst + n * row;
            for (int64_t j = 0; j < row; ++j)
              to[j] = static_cast<scalar_t>(sum[static_cast<size_t>(j)]);
          }
        });
      });
  return grad_base;
}

#ifdef EQNN_WITH_CUDA
at::Tensor expand_filter_cuda(const at::Tensor& weight_in, c10::string_view group_name,
                              bool lifting) {
  const PreparedExpandFilter r = prepare_forward(weight_in, group_name, lifting);
  if (r.p.expanded_numel() == 0) return r.out;
  support::check_launch(detail::cuda::expand_filter_forward(
                            r.p, support::scalar_kind(r.in.scalar_type(), kExpandFilterOp),
                            r.in.data_ptr(), r.out.data_ptr(), support::current_stream()),
                        kExpandFilterOp);
  return r.out;
}

at::Tensor expand_filter_backward_cuda(const at::Tensor& grad_in, c10::string_view group_name,
                                       at::IntArrayRef weight_shape) {
  const PreparedExpandFilter r = prepare_backward(grad_in, group_name, weight_shape);
  if (r.p.base_numel() == 0) return r.out;
  support::check_launch(detail::cuda::expand_filter_backward(
                            r.p, support::scalar_kind(r.in.scalar_type(), kExpandFilterOp),
                            r.in.data_ptr(), r.out.data_ptr(), support::current_stream()),
                        kExpandFilterOp);
  return r.out;
}
#endif

at::Tensor call_expand_filter(const at::Tensor& weight, c10::string_view group, bool lifting) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("eqnn::expand_filter", "")
                       .typed<at::Tensor(const at::Tensor&, c10::string_view, bool)>();
  return op.call(weight, group, lifting);
}

at::Tensor call_expand_filter_backward(const at::Tensor& grad, c10::string_view group,
                                       at::IntArrayRef weight_shape) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("eqnn::expand_filter_backward", "")
                       .typed<at::Tensor(const at::Tensor&, c10::string_view, at::IntArrayRef)>();
  return op.call(grad, group, weight_shape);
}

struct ExpandFilterFunction : public torch::autograd::Function<ExpandFilterFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& weight,
                            c10::string_view group, bool lifting) {
    ctx->saved_data["group"] = std::string(group);
    ctx->saved_data["weight_shape"] = weight.sizes().vec();
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_expand_filter(weight, group, lifting);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const std::string group = ctx->saved_data["group"].toStringRef();
    const std::vector<int64_t> shape = ctx->saved_data["weight_shape"].toIntVector();
    return {call_expand_filter_backward(grads[0], group, shape), at::Tensor(), at::Tensor()};
  }
};

at::Tensor expand_filter_autograd(const at::Tensor& weight, c10::string_view group, bool lifting) {
  return ExpandFilterFunction::apply(weight, group, lifting);
}

}  // namespace

TORCH_LIBRARY_IMPL(eqnn, CPU, m) {
  m.impl("expand_filter", &expand_filter_cpu);
  m.impl("expand_filter_backward", &expand_filter_backward_cpu);
}

#ifdef EQNN_WITH_CUDA
TORCH_LIBRARY_IMPL(eqnn, CUDA, m) {
  m.impl("expand_filter", &expand_filter_cuda);
  m.impl("expand_filter_backward", &expand_filter_backward_cuda);
}
#endif

TORCH_LIBRARY_IMPL(eqnn, Autograd, m) {
  m.impl("expand_filter", &expand_filter_autograd);
}

torch::Tensor expand_lifting_filter(const torch::Tensor& weight, const Group& group) {
  return call_expand_filter(weight, group.name(), /*lifting=*/true);
}

torch::Tensor expand_group_filter(const torch::Tensor& weight, const Group& group) {
  return call_expand_filter(weight, group.name(), /*lifting=*/false);
}

namespace internal {

void check_bias(const at::Tensor& bias) {
  TORCH_CHECK(bias.defined() && bias.dim() == 1,
              "eqnn::ops::expand_bias: expected a 1-D bias, got ",
              bias.defined() ? bias.sizes() : at::IntArrayRef{});
}

at::Tensor repeat_fields(const at::Tensor& bias_in, int64_t order) {
  if (!bias_in.is_cpu()) return bias_in.unsqueeze(1).expand({bias_in.size(0), order}).reshape({-1});
  const at::Tensor bias = bias_in.contiguous();
  at::Tensor out = at::empty({bias.size(0) * order}, bias.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, bias.scalar_type(), "eqnn::expand_bias",
                                  [&] {
                                    const scalar_t* b = bias.data_ptr<scalar_t>();
                                    scalar_t* o = out.data_ptr<scalar_t>();
                                    for (int64_t f = 0; f < bias.size(0); ++f)
                                      std::fill_n(o + f * order, order, b[f]);
                                  });
  return out;
}

at::Tensor sum_fields(const at::Tensor& grad_in, int64_t order) {
  if (!grad_in.is_cpu()) return grad_in.reshape({-1, order}).sum(1);
  const at::Tensor grad = grad_in.contiguous();
  const int64_t fields = grad.numel() / order;
  at::Tensor out = at::empty({fields}, grad.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "eqnn::expand_bias",
                                  [&] {
                                    using acc_t = at::opmath_type<scalar_t>;
                                    const scalar_t* g = grad.data_ptr<scalar_t>();
                                    scalar_t* o = out.data_ptr<scalar_t>();
                                    for (int64_t f = 0; f < fields; ++f) {
                                      acc_t sum = 0;
                                      for (int64_t t = 0; t < order; ++t)
                                        sum += static_cast<acc_t>(g[f * order + t]);
                                      o[f] = static_cast<scalar_t>(sum);
                                    }
                                  });
  return out;
}

}  // namespace internal

namespace {
/// expand_bias as one autograd node (a composition of unsqueeze, expand and reshape records three).
struct ExpandBiasFunction : public torch::autograd::Function<ExpandBiasFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& bias,
                            int64_t order) {
    ctx->saved_data["order"] = order;
    return internal::repeat_fields(bias, order);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    return {internal::sum_fields(grads[0], ctx->saved_data["order"].toInt()), at::Tensor()};
  }
};
}  // namespace

torch::Tensor expand_bias(const torch::Tensor& bias, const Group& group) {
  internal::check_bias(bias);
  return ExpandBiasFunction::apply(bias, group.order());
}

namespace internal {
namespace {

at::Tensor expand_filter_direct(const at::Tensor& weight, const Group& group, bool lifting) {
  return weight.is_cpu() ? expand_filter_cpu(weight, group.name(), lifting)
                         : call_expand_filter(weight, group.name(), lifting);
}

at::Tensor expand_filter_backward_direct(const at::Tensor& grad, const std::string& group,
                                         at::IntArrayRef shape) {
  return grad.is_cpu() ? expand_filter_backward_cpu(grad, group, shape)
                       : call_expand_filter_backward(grad, group, shape);
}

struct ExpandFilterAndBiasFunction : public torch::autograd::Function<ExpandFilterAndBiasFunction> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const at::Tensor& weight, const at::Tensor& bias,
                                                const Group& group) {
    ctx->saved_data["group"] = group.name();
    ctx->saved_data["weight_shape"] = weight.sizes().vec();
    ctx->saved_data["order"] = static_cast<int64_t>(group.order());
    at::AutoDispatchBelowADInplaceOrView guard;
    return {expand_filter_direct(weight, group, weight.dim() == 4),
            repeat_fields(bias, group.order())};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    at::Tensor grad_weight, grad_bias;
    if (grads[0].defined())
      grad_weight = expand_filter_backward_direct(grads[0], ctx->saved_data["group"].toStringRef(),
                                                  ctx->saved_data["weight_shape"].toIntVector());
    if (grads[1].defined()) grad_bias = sum_fields(grads[1], ctx->saved_data["order"].toInt());
    return {grad_weight, grad_bias, at::Tensor()};
  }
};

}  // namespace

std::pair<torch::Tensor, torch::Tensor> expand_filter_and_bias(const torch::Tensor& weight,
                                                               const torch::Tensor& bias,
                                                               const Group& group) {
  TORCH_CHECK(weight.defined() && (weight.dim() == 4 || weight.dim() == 5), kExpandFilterOp,
              ": expected a 4-D (lifting) or 5-D (group) weight, got ",
              weight.defined() ? weight.sizes() : at::IntArrayRef{});
  internal::check_bias(bias);
  const torch::autograd::variable_list out =
      ExpandFilterAndBiasFunction::apply(weight, bias, group);
  return {out[0], out[1]};
}

}  // namespace internal

}  // namespace ops
}  // namespace eqnn
