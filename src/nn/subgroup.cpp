#include "eqnn/nn/subgroup.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "eqnn/nn/output_observer.h"

namespace eqnn {
namespace {

constexpr const char* kRestrict = "eqnn::RestrictFields";
constexpr const char* kCoset = "eqnn::CosetPool";

void check_num_fields(int64_t n, const char* who) {
  TORCH_CHECK(n == FieldType::kAnyFields || n > 0, who,
              ": num_fields must be positive (or kAnyFields), got ", n);
}

/// x viewed as (B, F, |G|, H, W), the group axis gathered by `index`, back to (B, F*K, H, W).
torch::Tensor gather_group_axis(const torch::Tensor& x, int64_t order, const torch::Tensor& index) {
  const auto s = x.sizes();
  const int64_t fields = s[1] / order;
  const torch::Tensor y =
      x.reshape({s[0], fields, order, s[2], s[3]}).index_select(2, index.to(x.device()));
  return y.reshape({s[0], fields * index.size(0), s[2], s[3]})
      .contiguous(x.suggest_memory_format());
}

/// A 1x1 convolution without bias that copies input channel source[c] to output channel c, for
/// every block of `order` input channels (exact: one product by 1 per output entry).
torch::nn::Conv2d gather_conv(int64_t fields, int64_t order, const std::vector<int64_t>& source) {
  const int64_t out_per_field = static_cast<int64_t>(source.size());
  torch::nn::Conv2d conv(
      torch::nn::Conv2dOptions(fields * order, fields * out_per_field, 1).bias(false));
  torch::NoGradGuard no_grad;
  conv->weight.zero_();
  for (int64_t f = 0; f < fields; ++f)
    for (int64_t c = 0; c < out_per_field; ++c)
      conv->weight[f * out_per_field + c][f * order + source[c]][0][0] = 1.0;
  return conv;
}

}  // namespace

// ---- RestrictFields
// ------------------------------------------------------------------------------

RestrictFieldsImpl::RestrictFieldsImpl(RestrictFieldsOptions options_)
    : options(std::move(options_)) {
  reset();
}

void RestrictFieldsImpl::reset() {
  const Group& g = options.group();
  const Group& h = options.subgroup();
  TORCH_CHECK(g.has_subgroup(h), kRestrict, ": ", h.name(), " is not a subgroup of ", g.name(),
              " (C_M and D_M are subgroups of C_N and D_N when M divides N; D_M only of D_N)");
  check_num_fields(options.num_fields(), kRestrict);
  // right cosets H t_j, representatives in G's index order
  std::vector<bool> covered(g.order(), false);
  source_.clear();
  for (int64_t t = 0; t < g.order(); ++t) {
    if (covered[t]) continue;
    for (int64_t e = 0; e < h.order(); ++e) {
      const int64_t s = g.compose(g.embed(h, e), t);
      covered[s] = true;
      source_.push_back(s);
    }
  }
  index_ = torch::tensor(source_, torch::kLong);
}

void RestrictFieldsImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::RestrictFields(" << options.group().name() << " -> " << options.subgroup().name()
         << ", " << options.group().order() / options.subgroup().order() << " fields each)";
}

torch::Tensor RestrictFieldsImpl::forward(const torch::Tensor& input) {
  in_type().check_input(input, kRestrict);
  TORCH_CHECK(input.dim() == 4, kRestrict, ": expected (B, C, H, W), got ", input.sizes());
  return report_output(*this, gather_group_axis(input, options.group().order(), index_));
}

FieldType RestrictFieldsImpl::in_type() const {
  return FieldType::regular(options.group(), options.num_fields());
}

FieldType RestrictFieldsImpl::out_type() const {
  const int64_t per_field = options.group().order() / options.subgroup().order();
  return FieldType::regular(options.subgroup(), options.num_fields() == FieldType::kAnyFields
                                                    ? FieldType::kAnyFields
                                                    : options.num_fields() * per_field);
}

FieldType RestrictFieldsImpl::out_type_for(const FieldType& in) const {
  FieldType out = out_type();
  if (out.any_fields() && !in.any_fields())
    out.num_fields = in.num_fields * (options.group().order() / options.subgroup().order());
  return out;
}

torch::nn::Sequential RestrictFieldsImpl::export_module() const {
  TORCH_CHECK(options.num_fields() != FieldType::kAnyFields, kRestrict,
              ": export needs a fixed number of fields (num_fields)");
  return torch::nn::Sequential(gather_conv(options.num_fields(), options.group().order(), source_));
}

// ---- CosetPool
// ------------------------------------------------------------------------------------

CosetPoolImpl::CosetPoolImpl(CosetPoolOptions options_) : options(std::move(options_)) {
  reset();
}

void CosetPoolImpl::reset() {
  const Group& g = options.group();
  TORCH_CHECK(g.has_mirrors(), kCoset, ": pools over mirror cosets, so the group must be D_N; got ",
              g.name());
  check_num_fields(options.num_fields(), kCoset);
  std::vector<int64_t> mirrored(g.rotations());
  for (int64_t r = 0; r < g.rotations(); ++r)
    mirrored[r] = g.compose(r, g.rotations());  // R^r M
  mirror_index_ = torch::tensor(mirrored, torch::kLong);
}

void CosetPoolImpl::pretty_print(std::ostream& stream) const {
  stream << "eqnn::CosetPool(" << options.group().name() << " -> C" << options.group().rotations()
         << ", " << to_string(options.mode()) << ")";
}

torch::Tensor CosetPoolImpl::forward(const torch::Tensor& input) {
  in_type().check_input(input, kCoset);
  TORCH_CHECK(input.dim() == 4, kCoset, ": expected (B, C, H, W), got ", input.sizes());
  const int64_t n = options.group().rotations(), order = options.group().order();
  const auto s = input.sizes();
  const torch::Tensor x = input.reshape({s[0], s[1] / order, order, s[2], s[3]});
  const torch::Tensor rotations = x.narrow(2, 0, n);
  const torch::Tensor mirrors = x.index_select(2, mirror_index_.to(input.device()));
  const torch::Tensor y = options.mode() == PoolMode::Max ? torch::maximum(rotations, mirrors)
                                                          : (rotations + mirrors) * 0.5;
  return report_output(
      *this, y.reshape({s[0], s[1] / 2, s[2], s[3]}).contiguous(input.suggest_memory_format()));
}

FieldType CosetPoolImpl::in_type() const {
  return FieldType::regular(options.group(), options.num_fields());
}

FieldType CosetPoolImpl::out_type() const {
  return FieldType::regular(Group::cyclic(options.group().rotations()), options.num_fields());
}

torch::nn::Sequential CosetPoolImpl::export_module() const {
  TORCH_CHECK(options.num_fields() != FieldType::kAnyFields, kCoset,
              ": export needs a fixed number of fields (num_fields)");
  namespace nn = torch::nn;
  const int64_t n = options.group().rotations();
  std::vector<int64_t> pairs;  // (R^r, R^r M) for each r
  for (int64_t r = 0; r < n; ++r) {
    pairs.push_back(r);
    pairs.push_back(mirror_index_[r].item<int64_t>());
  }
  nn::Sequential seq(gather_conv(options.num_fields(), options.group().order(), pairs));
  seq->push_back(nn::Unflatten(nn::UnflattenOptions(1, {-1, 2})));
  if (options.mode() == PoolMode::Max)
    seq->push_back(nn::MaxPool3d(nn::MaxPool3dOptions({2, 1, 1})));
  else
    seq->push_back(nn::AvgPool3d(nn::AvgPool3dOptions({2, 1, 1})));
  seq->push_back(nn::Flatten(nn::FlattenOptions().start_dim(1).end_dim(2)));
  return seq;
}

}  // namespace eqnn
