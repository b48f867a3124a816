#include "eqnn/nn/conv_base.h"

#include <c10/core/InferenceMode.h>
#include <torch/nn/modules/conv.h>

#include <cstring>
#include <tuple>

#include "../ops/expand_parameters.h"
#include "conv2d_forward.h"
#include "eqnn/nn/group_conv.h"
#include "eqnn/nn/lifting_conv.h"
#include "eqnn/nn/output_observer.h"
#include "eqnn/ops.h"
#include "eqnn/steerable_basis.h"

namespace eqnn {
namespace detail {
namespace {

template <typename Options>
Conv2dGeometry geometry(const Options& o) {
  return {o.kernel_size(),  o.stride(), o.padding(),      o.dilation(),
          o.padding_mode(), o.strict(), o.channels_last()};
}

}  // namespace

template <typename Derived, typename Options>
void EquivariantConv2dBase<Derived, Options>::reset() {
  check_conv_options(Derived::kName, Derived::in_count(options), options.out_fields(),
                     geometry(options));
  const Group& group = options.group();
  steerable_ = options.basis() == FilterBasis::Steerable ||
               (options.basis() == FilterBasis::Auto && !group.is_grid_group());
  TORCH_CHECK(
      steerable_ || group.is_grid_group(), Derived::kName, ": ", group.name(),
      " rotates by angles that are not multiples of 90 degrees, so pixel filters cannot be ",
      "rotated exactly; use basis(FilterBasis::Steerable) (or Auto), got basis(",
      to_string(options.basis()), ")");
  std::vector<int64_t> shape = Derived::weight_shape(options);
  basis_description_.clear();
  if (steerable_) {
    const SteerableBasis steerable_basis(
        SteerableBasisOptions(options.kernel_size()).max_frequency(options.max_frequency()));
    basis_description_ = steerable_basis.describe();
    shape.resize(shape.size() - 2);  // (..., k, k) -> (..., nb)
    shape.push_back(steerable_basis.size());
    basis = steerable_basis.sample(group);
    basis_cast_ = torch::Tensor();
  }
  weight = this->register_parameter("weight", torch::empty(shape));
  bias = this->register_parameter(
      "bias", options.bias() ? torch::empty({options.out_fields()}) : torch::Tensor(),
      /*requires_grad=*/options.bias());
  reset_parameters();
}

template <typename Derived, typename Options>
void EquivariantConv2dBase<Derived, Options>::reset_parameters() {
  const int64_t kk = options.kernel_size() * options.kernel_size();
  he_init(weight, bias,
          steerable_ ? Derived::fan_in(options) / kk * weight.size(-1) : Derived::fan_in(options));
}

template <typename Derived, typename Options>
void EquivariantConv2dBase<Derived, Options>::pretty_print(std::ostream& stream) const {
  stream << Derived::kName << "(" << options.group() << ", " << this->in_type() << " -> "
         << options.out_fields() << " fields, kernel_size=" << options.kernel_size()
         << ", stride=" << options.stride() << ", padding=" << options.padding();
  if (options.dilation() != 1) stream << ", dilation=" << options.dilation();
  if (options.padding_mode() != PaddingMode::Zeros)
    stream << ", padding_mode=" << to_string(options.padding_mode());
  if (!options.bias()) stream << ", bias=false";
  if (!options.strict()) stream << ", strict=false";
  if (options.channels_last()) stream << ", channels_last";
  if (steerable_) stream << ", steerable basis: " << basis_description_;
  stream << ")";
}

template <typename Derived, typename Options>
torch::Tensor EquivariantConv2dBase<Derived, Options>::expanded_weight() const {
  if (steerable_) return ops::expand_steerable_filter(weight, basis_like_weight(), options.group());
  return Derived::expand(weight, options.group());
}

template <typename Derived, typename Options>
const torch::Tensor& EquivariantConv2dBase<Derived, Options>::basis_like_weight() const {
  if (!basis_cast_.defined() || basis_cast_.scalar_type() != weight.scalar_type() ||
      basis_cast_.device() != weight.device()) {
    c10::InferenceMode not_inference(false);
    basis_cast_ = basis.to(weight.options().requires_grad(false));
  }
  return basis_cast_;
}

template <typename Derived, typename Options>
torch::Tensor EquivariantConv2dBase<Derived, Options>::expanded_bias() const {
  return bias.defined() ? ops::expand_bias(bias, options.group()) : torch::Tensor();
}

template <typename Derived, typename Options>
bool EquivariantConv2dBase<Derived, Options>::cache_valid() const {
  // Compared by content on every call: writes through .data() or a raw pointer leave the version
  // counter alone. Dense CPU tensors compare their bytes (an expansion of the same bits is the
  // same bank; -0 vs 0 only costs a rebuild), without the dispatch of torch::equal.
  const auto same = [](const torch::Tensor& saved, const torch::Tensor& current) {
    if (!current.defined()) return !saved.defined();
    if (!saved.defined() || saved.scalar_type() != current.scalar_type() ||
        saved.device() != current.device() || saved.sizes() != current.sizes())
      return false;
    if (saved.is_cpu() && saved.is_contiguous() && current.is_contiguous())
      return saved.nbytes() == 0 ||
             std::memcmp(saved.data_ptr(), current.data_ptr(), saved.nbytes()) == 0;
    return torch::equal(saved, current);
  };
  return cache_.weight.defined() && same(cache_.base_weight, weight) &&
         same(cache_.base_bias, bias);
}

template <typename Derived, typename Options>
void EquivariantConv2dBase<Derived, Options>::train(bool on) {
  cache_ = FilterCache{};
  torch::nn::Module::train(on);
}

template <typename Derived, typename Options>
torch::Tensor EquivariantConv2dBase<Derived, Options>::forward(const torch::Tensor& input) {
  const bool needs_graph = torch::GradMode::is_enabled() &&
                           (weight.requires_grad() || (bias.defined() && bias.requires_grad()));
  cache_hit_ = false;
  if (this->is_training() || needs_graph) {
    cache_ = FilterCache{};  // the parameters are being trained: do not keep a copy around
    torch::Tensor w, b;
    if (bias.defined() && !steerable_)
      std::tie(w, b) = ops::internal::expand_filter_and_bias(weight, bias, options.group());
    else if (bias.defined())
      std::tie(w, b) = ops::internal::expand_steerable_filter_and_bias(weight, basis_like_weight(),
                                                                       bias, options.group());
    else
      std::tie(w, b) = std::make_pair(expanded_weight(), expanded_bias());
    return report_output(*this, equivariant_conv2d(Derived::kName, this->in_type(), input, weight,
                                                   w, b, geometry(options)));
  }
  if (cache_valid()) {
    cache_hit_ = true;
  } else {
    // Normal (not inference-mode) tensors without history, reusable in any later mode.
    c10::InferenceMode not_inference(false);
    torch::NoGradGuard no_grad;
    cache_.weight = expanded_weight();
    cache_.bias = expanded_bias();
    cache_.base_weight = weight.detach().clone();
    cache_.base_bias = bias.defined() ? bias.detach().clone() : torch::Tensor();
  }
  return report_output(*this, equivariant_conv2d(Derived::kName, this->in_type(), input, weight,
                                                 cache_.weight, cache_.bias, geometry(options)));
}

template <typename Derived, typename Options>
torch::nn::Sequential EquivariantConv2dBase<Derived, Options>::export_module() const {
  torch::NoGradGuard no_grad;
  const torch::Tensor tw = expanded_weight();
  auto conv_options = torch::nn::Conv2dOptions(tw.size(1), tw.size(0), options.kernel_size())
                          .stride(options.stride())
                          .padding(options.padding())
                          .dilation(options.dilation())
                          .bias(options.bias());
  switch (options.padding_mode()) {
    case PaddingMode::Zeros:
      conv_options.padding_mode(torch::kZeros);
      break;
    case PaddingMode::Reflect:
      conv_options.padding_mode(torch::kReflect);
      break;
    case PaddingMode::Replicate:
      conv_options.padding_mode(torch::kReplicate);
      break;
    case PaddingMode::Circular:
      conv_options.padding_mode(torch::kCircular);
      break;
  }
  torch::nn::Conv2d conv(conv_options);
  conv->to(tw.device(), tw.scalar_type());
  conv->weight.copy_(tw);
  if (options.bias()) conv->bias.copy_(expanded_bias());
  conv->train(this->is_training());
  return torch::nn::Sequential(conv);
}

template class EquivariantConv2dBase<LiftingConv2dImpl, LiftingConv2dOptions>;
template class EquivariantConv2dBase<GroupConv2dImpl, GroupConv2dOptions>;

}  // namespace detail

// ---- LiftingConv2d ------------------------------------------------------------------------------

LiftingConv2dImpl::LiftingConv2dImpl(LiftingConv2dOptions options_)
    : EquivariantConv2dBase(std::move(options_)) {
  reset();
}

FieldType LiftingConv2dImpl::in_type() const {
  return FieldType::trivial(options.group(), options.in_channels());
}

std::vector<int64_t> LiftingConv2dImpl::weight_shape(const LiftingConv2dOptions& o) {
  return {o.out_fields(), o.in_channels(), o.kernel_size(), o.kernel_size()};
}

int64_t LiftingConv2dImpl::fan_in(const LiftingConv2dOptions& o) {
  return o.in_channels() * o.kernel_size() * o.kernel_size();
}

torch::Tensor LiftingConv2dImpl::expand(const torch::Tensor& weight, const Group& group) {
  return ops::expand_lifting_filter(weight, group);
}

// ---- GroupConv2d --------------------------------------------------------------------------------

GroupConv2dImpl::GroupConv2dImpl(GroupConv2dOptions options_)
    : EquivariantConv2dBase(std::move(options_)) {
  reset();
}

FieldType GroupConv2dImpl::in_type() const {
  return FieldType::regular(options.group(), options.in_fields());
}

std::vector<int64_t> GroupConv2dImpl::weight_shape(const GroupConv2dOptions& o) {
  return {o.out_fields(), o.in_fields(), o.group().order(), o.kernel_size(), o.kernel_size()};
}

int64_t GroupConv2dImpl::fan_in(const GroupConv2dOptions& o) {
  return o.in_fields() * o.group().order() * o.kernel_size() * o.kernel_size();
}

torch::Tensor GroupConv2dImpl::expand(const torch::Tensor& weight, const Group& group) {
  return ops::expand_group_filter(weight, group);
}

}  // namespace eqnn
