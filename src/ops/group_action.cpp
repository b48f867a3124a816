// eqnn::group_action: the action of several group elements on a feature map in one fused pass
// (plane rotation/flip and group-axis permutation), in NCHW or channels_last. CUDA runs the element
// functions of eqnn/detail/group_action_kernel.h; the CPU walks output rows with the same map
// (action_rows.h: no per-entry index math).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "action_rows.h"
#include "eqnn/ops.h"
#include "kernel_support.h"

namespace eqnn {
namespace ops {
namespace {

using detail::GroupActionParams;
constexpr const char* kGroupActionOp = "eqnn::group_action";

void check_element_count(at::IntArrayRef elements, const char* pass) {
  TORCH_CHECK(
      !elements.empty() && static_cast<int64_t>(elements.size()) <= detail::kMaxActionElements,
      kGroupActionOp, pass, ": expected 1 to ", detail::kMaxActionElements,
      " elements per call, got ", elements.size());
}

GroupActionParams params_for(const Group& group, at::IntArrayRef elements, bool regular,
                             const at::Tensor& x, at::MemoryFormat format) {
  check_element_count(elements, "");
  TORCH_CHECK(x.dim() == 4, kGroupActionOp, ": expected a 4-D input (B, C, H, W), got shape ",
              x.sizes());
  GroupActionParams p{};
  p.group = group.tables();
  p.num_elements = static_cast<int>(elements.size());
  bool quarter_turn = false;
  for (size_t k = 0; k < elements.size(); ++k) {
    TORCH_CHECK(elements[k] >= 0 && elements[k] < group.order(), kGroupActionOp, ": element index ",
                elements[k], " is out of range for ", group.name(), " (order ", group.order(), ")");
    TORCH_CHECK(group.on_grid(elements[k]), kGroupActionOp, ": element ",
                group.element_name(elements[k]), " of ", group.name(), " rotates by ",
                group.rotation_degrees(elements[k]),
                " degrees; this op permutes pixels and takes elements on the grid only (the C++ ",
                "function eqnn::ops::group_action interpolates the others)");
    p.elements[k] = static_cast<int8_t>(elements[k]);
    quarter_turn = quarter_turn || detail::d4_rotation(group.d4_index(elements[k])) % 2 == 1;
  }
  TORCH_CHECK(!quarter_turn || x.size(2) == x.size(3), kGroupActionOp,
              ": a rotation by 90 degrees needs a ", "square plane, got ", x.size(2), "x",
              x.size(3));
  TORCH_CHECK(!regular || x.size(1) % group.order() == 0, kGroupActionOp, ": ", x.size(1),
              " channels are not a whole number of regular ", group.name(), " fields");
  p.regular = regular;
  p.channels_last = format == at::MemoryFormat::ChannelsLast;
  p.batch = x.size(0);
  p.channels = x.size(1);
  p.rows = x.size(2);
  p.cols = x.size(3);
  return p;
}

struct PreparedGroupAction {
  at::Tensor in, out;
  GroupActionParams p;
};

/// Forward: in = x, out = (K*B, C, H, W). Backward: in = grad_y, out = grad_x (B, C, H, W).
PreparedGroupAction prepare(const at::Tensor& t, c10::string_view group_name,
                            at::IntArrayRef elements, bool regular, bool backward) {
  support::check_supported(t, kGroupActionOp);
  const Group group = Group::from_name(std::string(group_name));
  const at::MemoryFormat format = support::feature_format(t);
  PreparedGroupAction r;
  r.in = t.contiguous(format);
  const int64_t k = static_cast<int64_t>(elements.size());
  if (backward) {
    check_element_count(elements, " backward");  // before dividing by k
    TORCH_CHECK(r.in.dim() == 4 && r.in.size(0) % k == 0, kGroupActionOp,
                " backward: gradient of shape ", r.in.sizes(), " is not ", k, " stacked copies");
    r.out = at::empty({r.in.size(0) / k, r.in.size(1), r.in.size(2), r.in.size(3)},
                      r.in.options().memory_format(format));
    r.p = params_for(group, elements, regular, r.out, format);
  } else {
    r.p = params_for(group, elements, regular, r.in, format);
    r.out = at::empty({r.in.size(0) * k, r.in.size(1), r.in.size(2), r.in.size(3)},
                      r.in.options().memory_format(format));
  }
  return r;
}

at::Tensor group_action_cpu(const at::Tensor& x, c10::string_view group, at::IntArrayRef elements,
                            bool regular) {
  PreparedGroupAction r = prepare(x, group, elements, regular, /*backward=*/false);
  const GroupActionParams& p = r.p;
  if (p.in_numel() == 0) return r.out;  // empty in (e.g. batch 0), empty out
  std::vector<ActionRows> copies;
  for (int k = 0; k < p.num_elements; ++k)
    copies.emplace_back(p, k);
  const int64_t rows = copies.front().rows(), length = copies.front().row_length();
  const int64_t image = p.in_numel() / p.batch;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, r.in.scalar_type(), kGroupActionOp, [&] {
        const scalar_t* src = r.in.data_ptr<scalar_t>();
        scalar_t* dst = r.out.data_ptr<scalar_t>();
        // output rows in memory order: (copy, image, row)
        support::cpu_for_rows(p.num_elements * p.batch * rows, length, [&](int64_t rr) {
          const int64_t k = rr / (p.batch * rows), b = rr / rows % p.batch;
          copies[k].fill(rr % rows, src + b * image, dst + rr * length);
        });
      });
  return r.out;
}

at::Tensor group_action_backward_cpu(const at::Tensor& grad, c10::string_view group,
                                     at::IntArrayRef elements, bool regular) {
  PreparedGroupAction r = prepare(grad, group, elements, regular, /*backward=*/true);
  if (r.p.in_numel() == 0) return r.out;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, r.in.scalar_type(), kGroupActionOp, [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const scalar_t* src = r.in.data_ptr<scalar_t>();
        scalar_t* dst = r.out.data_ptr<scalar_t>();
        support::cpu_for(r.p.in_numel(), [&](int64_t m) {
          detail::group_action_backward_element<scalar_t, acc_t>(r.p, src, dst, m);
        });
      });
  return r.out;
}

#ifdef EQNN_WITH_CUDA
at::Tensor group_action_cuda(const at::Tensor& x, c10::string_view group, at::IntArrayRef elements,
                             bool regular) {
  PreparedGroupAction r = prepare(x, group, elements, regular, /*backward=*/false);
  if (r.p.in_numel() == 0) return r.out;
  support::check_launch(detail::cuda::group_action_forward(
                            r.p, support::scalar_kind(r.in.scalar_type(), kGroupActionOp),
                            r.in.data_ptr(), r.out.data_ptr(), support::current_stream()),
                        kGroupActionOp);
  return r.out;
}

at::Tensor group_action_backward_cuda(const at::Tensor& grad, c10::string_view group,
                                      at::IntArrayRef elements, bool regular) {
  PreparedGroupAction r = prepare(grad, group, elements, regular, /*backward=*/true);
  if (r.p.in_numel() == 0) return r.out;
  support::check_launch(detail::cuda::group_action_backward(
                            r.p, support::scalar_kind(r.in.scalar_type(), kGroupActionOp),
                            r.in.data_ptr(), r.out.data_ptr(), support::current_stream()),
                        kGroupActionOp);
  return r.out;
}
#endif

using ActionSignature = at::Tensor(const at::Tensor&, c10::string_view, at::IntArrayRef, bool);

at::Tensor call_group_action(const at::Tensor& x, c10::string_view group, at::IntArrayRef elements,
                             bool regular) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("eqnn::group_action", "")
                       .typed<ActionSignature>();
  return op.call(x, group, elements, regular);
}

at::Tensor call_group_action_backward(const at::Tensor& grad, c10::string_view group,
                                      at::IntArrayRef elements, bool regular) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("eqnn::group_action_backward", "")
                       .typed<ActionSignature>();
  return op.call(grad, group, elements, regular);
}

struct GroupActionFunction : public torch::autograd::Function<GroupActionFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            c10::string_view group, at::IntArrayRef elements, bool regular) {
    ctx->saved_data["group"] = std::string(group);
    ctx->saved_data["elements"] = elements.vec();
    ctx->saved_data["regular"] = regular;
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_group_action(x, group, elements, regular);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const std::vector<int64_t> elements = ctx->saved_data["elements"].toIntVector();
    return {call_group_action_backward(grads[0], ctx->saved_data["group"].toStringRef(), elements,
                                       ctx->saved_data["regular"].toBool()),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor group_action_autograd(const at::Tensor& x, c10::string_view group,
                                 at::IntArrayRef elements, bool regular) {
  return GroupActionFunction::apply(x, group, elements, regular);
}

}  // namespace

TORCH_LIBRARY_IMPL(eqnn, CPU, m) {
  m.impl("group_action", &group_action_cpu);
  m.impl("group_action_backward", &group_action_backward_cpu);
}

#ifdef EQNN_WITH_CUDA
TORCH_LIBRARY_IMPL(eqnn, CUDA, m) {
  m.impl("group_action", &group_action_cuda);
  m.impl("group_action_backward", &group_action_backward_cuda);
}
#endif

TORCH_LIBRARY_IMPL(eqnn, Autograd, m) {
  m.impl("group_action", &group_action_autograd);
}

namespace {

/// One element through the fused op (on the grid), or as a channel gather and an interpolated
/// plane rotation (off the grid).
at::Tensor act_with_elements(const at::Tensor& x, const Group& group,
                             const std::vector<int64_t>& elements, bool regular) {
  const bool on_grid =
      std::all_of(elements.begin(), elements.end(), [&](int64_t e) { return group.on_grid(e); });
  if (on_grid) return call_group_action(x, group.name(), elements, regular);
  check_element_count(elements, "");
  TORCH_CHECK(!regular || x.size(1) % group.order() == 0, kGroupActionOp, ": ", x.size(1),
              " channels are not a whole number of regular ", group.name(), " fields");
  const at::MemoryFormat format = support::feature_format(x);
  std::vector<at::Tensor> copies;
  for (const int64_t e : elements) {
    if (group.on_grid(e)) {
      copies.push_back(call_group_action(x, group.name(), {e}, regular));
      continue;
    }
    at::Tensor y = x;
    if (regular) {  // channel f*G + t takes channel f*G + idx(g^-1 h_t)
      const auto s = x.sizes();
      y = x.reshape({s[0], s[1] / group.order(), group.order(), s[2], s[3]})
              .index_select(2, group.regular_permutation(e).to(x.device()))
              .reshape(s);
    }
    copies.push_back(group.act_on_plane(y, e).contiguous(format));
  }
  return at::cat(copies, 0).contiguous(format);
}

}  // namespace

torch::Tensor group_action(const torch::Tensor& x, const Group& group,
                           const std::vector<int64_t>& elements, FieldKind kind) {
  TORCH_CHECK(x.defined() && (x.dim() == 4 || x.dim() == 2), kGroupActionOp,
              ": expected (B, C, H, W) or (B, C), got ",
              x.defined() ? x.sizes() : at::IntArrayRef{});
  const bool regular = kind == FieldKind::Regular;
  if (x.dim() == 2) {  // no plane: a 1x1 plane
    return act_with_elements(x.view({x.size(0), x.size(1), 1, 1}), group, elements, regular)
        .view({static_cast<int64_t>(elements.size()) * x.size(0), x.size(1)});
  }
  return act_with_elements(x, group, elements, regular);
}

}  // namespace ops
}  // namespace eqnn
