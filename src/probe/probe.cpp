#include "eqnn/probe/probe.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "eqnn/detail/group_action_kernel.h"
#include "eqnn/memory_format.h"
#include "eqnn/ops.h"
#include "stage_sums.h"
#include "sums.h"

namespace eqnn {
namespace probe {

const char* to_string(Metric metric) {
  switch (metric) {
    case Metric::Equivariance:
      return "equivariance";
    case Metric::Invariance:
      return "invariance";
    case Metric::OutputKL:
      return "output_kl";
  }
  return "?";
}

Metric metric_from_name(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (key == "equivariance") return Metric::Equivariance;
  if (key == "invariance") return Metric::Invariance;
  if (key == "output" || key == "output_kl" || key == "kl") return Metric::OutputKL;
  TORCH_CHECK(false, "eqnn::probe: unknown metric '", name,
              "'; expected equivariance, invariance or output");
}

namespace {

constexpr int64_t kMaxNormalisationSamples = 32;

/// Sums for one report row.
struct Accumulator {
  std::vector<double> per_element;  // sum over samples, per transform
  std::vector<double> per_sample;   // sum over used transforms, per sample
  bool defined = true;
};

/// All transformed copies of x, transform-major: (K * n, C, H, W).
torch::Tensor transformed_batch(const torch::Tensor& x, const std::vector<Transform>& transforms) {
  bool one_group = true;
  for (const Transform& tr : transforms)
    one_group = one_group && tr.kind == Transform::Kind::GroupElement &&
                tr.group == transforms.front().group;
  if (one_group) {  // one fused pass for every element
    std::vector<int64_t> elements;
    for (const Transform& tr : transforms)
      elements.push_back(tr.element);
    if (static_cast<int64_t>(elements.size()) <= detail::kMaxActionElements)
      return ops::group_action(x, transforms.front().group, elements, FieldKind::Trivial);
  }
  std::vector<torch::Tensor> copies;
  for (const Transform& tr : transforms)
    copies.push_back(tr.apply(x));
  return torch::cat(copies, 0);
}

void add(Accumulator& acc, int64_t k, int64_t sample, double value) {
  acc.per_element[k] += value;
  acc.per_sample[sample] += value;
}

void add(Accumulator& acc, int64_t k, int64_t sample0, const torch::Tensor& dev) {
  const auto values = dev.contiguous();
  const double* v = values.data_ptr<double>();
  for (int64_t i = 0; i < values.numel(); ++i) {
    acc.per_element[k] += v[i];
    acc.per_sample[sample0 + i] += v[i];
  }
}

/// Output invariance of one chunk's logits y (K * n, classes), transform-major: adds
/// KL(p_k || mean over k >= first of p_k) with p = softmax in float64, per sample and copy. On CPU
/// one loop over the rows (a chain of ATen ops on these small tensors costs more in dispatch).
void add_output_kl(Accumulator& acc, const torch::Tensor& logits, int64_t n, int64_t first,
                   int64_t start) {
  const int64_t k_all = logits.size(0) / n, used = k_all - first, classes = logits.size(1);
  if (!logits.is_cpu()) {
    std::vector<torch::Tensor> p;
    torch::Tensor mean = torch::zeros({n, classes}, logits.options().dtype(torch::kDouble));
    for (int64_t k = first; k < k_all; ++k) {
      p.push_back(torch::softmax(logits.narrow(0, k * n, n).to(torch::kDouble), 1));
      mean += p.back();
    }
    mean /= static_cast<double>(used);
    for (int64_t k = first; k < k_all; ++k)
      add(acc, k, start, deviation(p[k - first], mean, Deviation::KL).cpu());
    return;
  }
  const torch::Tensor z = logits.to(torch::kDouble).contiguous();
  const double* zp = z.data_ptr<double>();
  std::vector<double> p(static_cast<size_t>(k_all * classes)), mean(classes);
  for (int64_t i = 0; i < n; ++i) {
    std::fill(mean.begin(), mean.end(), 0.0);
    for (int64_t k = first; k < k_all; ++k) {
      const double* row = zp + (k * n + i) * classes;
      double* pk = p.data() + k * classes;
      const double top = *std::max_element(row, row + classes);
      double total = 0;
      for (int64_t c = 0; c < classes; ++c)
        total += pk[c] = std::exp(row[c] - top);
      for (int64_t c = 0; c < classes; ++c) {
        pk[c] /= total;
        mean[c] += pk[c] / static_cast<double>(used);
      }
    }
    for (int64_t k = first; k < k_all; ++k) {
      const double* pk = p.data() + k * classes;
      double kl = 0;  // 0 log 0 = 0; the mean is clamped like deviation(..., KL)
      for (int64_t c = 0; c < classes; ++c)
        if (pk[c] > 0) kl += pk[c] * (std::log(pk[c]) - std::log(std::max(mean[c], 1e-12)));
      add(acc, k, start + i, kl);
    }
  }
}

}  // namespace

Report run_probe(const StagedModel& model, const torch::Tensor& inputs,
                 const std::vector<Transform>& transforms_in, const ProbeOptions& options) {
  TORCH_CHECK(!model.stages.empty(), "eqnn::probe::run_probe: model '", model.name,
              "' has no stages");
  TORCH_CHECK(
      inputs.defined() && inputs.dim() == 4 && inputs.size(0) > 0 && inputs.is_floating_point(),
      "eqnn::probe::run_probe: expected a non-empty floating-point batch (B, C, H, W), got ",
      inputs.defined() ? inputs.sizes() : at::IntArrayRef{});
  TORCH_CHECK(!transforms_in.empty(), "eqnn::probe::run_probe: no transforms given");
  TORCH_CHECK(options.memory_budget_bytes > 0,
              "eqnn::probe::run_probe: memory budget must be positive");

  std::vector<Transform> transforms = transforms_in;
  const bool added_identity = !transforms.front().is_identity();
  if (added_identity) {
    Transform identity;
    identity.name = "e (reference)";
    transforms.insert(transforms.begin(), identity);
  }
  const int64_t k_all = static_cast<int64_t>(transforms.size());
  const int64_t first = added_identity ? 1 : 0;
  const int64_t used = k_all - first;
  const int64_t n_total = inputs.size(0);
  const int64_t n_stages = static_cast<int64_t>(model.stages.size());
  std::vector<int64_t> stages = options.stages;
  if (stages.empty())
    for (int64_t s = 0; s < n_stages; ++s)
      stages.push_back(s);
  for (int64_t s : stages)
    TORCH_CHECK(s >= 0 && s < n_stages, "eqnn::probe::run_probe: stage index ", s,
                " is out of range (the model has ", n_stages, " stages)");

  c10::InferenceMode inference;
  auto prepare = [&](const torch::Tensor& x) {
    return options.channels_last ? to_channels_last(x) : x.contiguous();
  };

  // Accumulators keyed by (stage, metric, deviation); std::map nodes stay put, so the per-stage
  // plans below keep pointers to them.
  std::map<std::tuple<int64_t, Metric, Deviation>, Accumulator> acc;
  auto slot = [&](int64_t s, Metric m, Deviation d) -> Accumulator* {
    auto it = acc.find({s, m, d});
    if (it == acc.end()) {
      Accumulator a;
      a.per_element.assign(k_all, 0.0);
      a.per_sample.assign(n_total, 0.0);
      it = acc.emplace(std::make_tuple(s, m, d), std::move(a)).first;
    }
    return &it->second;
  };
  const auto has = [&](Metric m) {
    return std::find(options.metrics.begin(), options.metrics.end(), m) != options.metrics.end();
  };
  const std::vector<Deviation>& devs = options.deviations;
  const bool want_equivariance = has(Metric::Equivariance),
             want_invariance = has(Metric::Invariance);

  // Per probed stage, fixed for the whole run: its accumulators and, where every transform acts
  // on it as an exact group action, those actions (the fused pass then builds the targets g.f(x)
  // itself; otherwise they are materialised through stage.action).
  struct StagePlan {
    bool probed = false;
    std::vector<Accumulator*> equivariance, invariance;  // per deviation
    std::vector<ExactAction> exact;                      // identity where not needed
    bool exact_equivariance = false;
  };
  bool pair_sum_deviations = true;  // the fused pass gives cosine and euclidean only
  for (const Deviation d : devs)
    pair_sum_deviations = pair_sum_deviations && d != Deviation::KL;
  std::vector<StagePlan> plans(n_stages);
  for (int64_t s : stages) {
    StagePlan& plan = plans[s];
    plan.probed = true;
    for (const Deviation d : devs) {
      if (want_equivariance) plan.equivariance.push_back(slot(s, Metric::Equivariance, d));
      if (want_invariance) plan.invariance.push_back(slot(s, Metric::Invariance, d));
    }
    const Stage& stage = model.stages[s];
    plan.exact.assign(k_all, ExactAction{});
    plan.exact_equivariance = want_equivariance && stage.exact_action != nullptr;
    for (int64_t k = first; k < k_all && plan.exact_equivariance; ++k) {
      const std::optional<ExactAction> a = stage.exact_action(transforms[k]);
      plan.exact_equivariance = a.has_value();
      if (a) plan.exact[k] = *a;
    }
    if (!plan.exact_equivariance) plan.exact.assign(k_all, ExactAction{});
  }

  std::vector<torch::Tensor> reference(n_stages);
  std::vector<int64_t> reference_count(n_stages, 0);
  // Chunks: the first is one sample, whose stage outputs give the memory per sample (all copies;
  // stages run one after the other, so two consecutive outputs are alive at a time) and so the
  // size of the others. (A separate sizing forward of one sample would cost more than it
  // measures: one image on its own can take LibTorch's slow reference-BLAS convolution.)
  int64_t chunk = 1;
  for (int64_t start = 0, n = 1; start < n_total; start += n) {
    n = std::min(chunk, n_total - start);
    const bool sizing = start == 0;
    const torch::Tensor x = prepare(inputs.narrow(0, start, n));
    torch::Tensor y = transformed_batch(x, transforms);
    int64_t bytes_per_sample = 0, previous = y.numel() * y.element_size();
    for (int64_t s = 0; s < n_stages; ++s) {
      const Stage& stage = model.stages[s];
      y = stage.forward(y);
      if (sizing) {
        const int64_t bytes = y.numel() * y.element_size();
        bytes_per_sample = std::max(bytes_per_sample, previous + bytes);
        previous = bytes;
      }
      const StagePlan& plan = plans[s];
      if (!plan.probed) continue;
      const auto copy = [&](int64_t k) { return y.narrow(0, k * n, n); };
      // the first samples' features, for the normalisation (independent of the chunking), in
      // the features' own memory format (a plain copy; the pair sums take any dense layout)
      torch::Tensor& kept = reference[s];
      const int64_t want = std::min(kMaxNormalisationSamples, n_total);
      if (options.normalised && reference_count[s] < want) {
        if (!kept.defined()) {
          std::vector<int64_t> sizes = y.sizes().vec();
          sizes[0] = want;
          kept = at::empty(sizes, y.options().memory_format(y.suggest_memory_format()));
        }
        const int64_t m = std::min(n, want - reference_count[s]);
        kept.narrow(0, reference_count[s], m).copy_(y.narrow(0, 0, m));
        reference_count[s] += m;
      }
      // Features without a plane, (K n, F), are 1x1 maps for the fused pass.
      const torch::Tensor maps =
          y.dim() == 2 ? y.contiguous().view({y.size(0), y.size(1), 1, 1}) : y;
      const bool fused = pair_sum_deviations && (plan.exact_equivariance || want_invariance) &&
                         stage_sums_supported(maps, plan.exact);
      const bool fused_equivariance = fused && plan.exact_equivariance;
      if (fused) {
        const StageSums totals =
            stage_sums(maps, k_all, first, plan.exact, fused_equivariance, want_invariance);
        for (size_t j = 0; j < devs.size(); ++j)
          for (int64_t k = first; k < k_all; ++k)
            for (int64_t i = 0; i < n; ++i) {
              const double a2 = totals.norm2[k * n + i];
              if (fused_equivariance)
                add(*plan.equivariance[j], k, start + i,
                    sums::from_sums(devs[j], totals.equivariance2[k * n + i], a2, totals.norm2[i]));
              if (want_invariance)
                add(*plan.invariance[j], k, start + i,
                    sums::from_sums(devs[j], totals.invariance2[k * n + i], a2,
                                    totals.centroid2[i]));
            }
      }
      if (want_equivariance && !fused_equivariance) {
        const torch::Tensor f0 = copy(0);
        bool defined = true;
        for (int64_t k = first; k < k_all && defined; ++k) {
          const torch::Tensor yk = copy(k);
          const std::optional<torch::Tensor> target = stage.action(f0, transforms[k]);
          defined = target && target->sizes() == yk.sizes();
          if (!defined) break;
          const std::vector<torch::Tensor> values = deviations(yk, *target, devs);
          for (size_t j = 0; j < devs.size(); ++j)
            add(*plan.equivariance[j], k, start, values[j]);
        }
        if (!defined)
          for (Accumulator* a : plan.equivariance)
            a->defined = false;
      }
      if (want_invariance && !fused) {
        std::vector<torch::Tensor> copies;
        for (int64_t k = first; k < k_all; ++k)
          copies.push_back(copy(k));
        const auto values = centroid_deviations(copies, devs);
        for (int64_t k = first; k < k_all; ++k)
          for (size_t j = 0; j < devs.size(); ++j)
            add(*plan.invariance[j], k, start, values[k - first][j]);
      }
      if (has(Metric::OutputKL) && s == n_stages - 1 && y.dim() == 2)
        add_output_kl(*slot(s, Metric::OutputKL, Deviation::KL), y, n, first, start);
    }
    if (sizing)
      chunk = std::clamp<int64_t>(
          options.memory_budget_bytes / std::max<int64_t>(1, bytes_per_sample), 1, n_total);
    if (options.progress) options.progress(start + n, n_total);
  }

  // Normalisation scales, one pairwise pass per stage (shared by the metrics and deviations).
  std::map<std::pair<int64_t, Deviation>, std::pair<double, int64_t>> scales;
  if (options.normalised)
    for (int64_t s : stages)
      if (reference[s].defined()) {
        const auto values = mean_pairwise_deviations(reference[s], options.deviations);
        for (size_t i = 0; i < values.size(); ++i)
          scales[{s, options.deviations[i]}] = values[i];
      }

  Report report;
  report.samples = n_total;
  for (int64_t k = first; k < k_all; ++k)
    report.transforms.push_back(transforms[k].name);
  for (auto& [key, a] : acc) {
    const auto [s, m, d] = key;
    ReportRow row;
    row.model = model.name;
    row.stage_index = s;
    row.stage = model.stages[s].name;
    row.action = m == Metric::Equivariance ? model.stages[s].action_name : "";
    row.metric = to_string(m);
    row.deviation = to_string(d);
    if (!a.defined) {
      row.value = std::numeric_limits<double>::quiet_NaN();
      row.action = "undefined for these transforms on " + model.stages[s].action_name;
    } else {
      double total = 0;
      for (int64_t k = first; k < k_all; ++k) {
        total += a.per_element[k];
        row.per_element.push_back(a.per_element[k] / static_cast<double>(n_total));
      }
      for (double v : a.per_sample)
        row.per_sample.push_back(v / static_cast<double>(used));
      row.value = total / static_cast<double>(n_total * used);
      const auto scale = scales.find({s, d});
      if (m != Metric::OutputKL && scale != scales.end() && scale->second.second > 0 &&
          scale->second.first > 0)
        row.normalised = row.value / scale->second.first;
    }
    report.rows.push_back(std::move(row));
  }
  std::sort(report.rows.begin(), report.rows.end(), [](const ReportRow& a, const ReportRow& b) {
    return std::tie(a.stage_index, a.metric, a.deviation) <
           std::tie(b.stage_index, b.metric, b.deviation);
  });
  return report;
}

}  // namespace probe
}  // namespace eqnn
