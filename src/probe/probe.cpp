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

  // Chunk size from the memory of one sample's transformed copies and stage outputs.
  // Stages run one after the other and only two consecutive outputs are alive at a time.
  int64_t bytes_per_sample = 0, previous = inputs[0].numel() * inputs.element_size();
  for (const torch::Tensor& y : model.forward_all(prepare(inputs.narrow(0, 0, 1)))) {
    const int64_t bytes = y.numel() * y.element_size();
    bytes_per_sample = std::max(bytes_per_sample, previous + bytes);
    previous = bytes;
  }
  const int64_t chunk = std::clamp<int64_t>(
      options.memory_budget_bytes / std::max<int64_t>(1, k_all * bytes_per_sample), 1, n_total);

  // Accumulators keyed by (stage, metric, deviation).
  std::map<std::tuple<int64_t, Metric, Deviation>, Accumulator> acc;
  auto slot = [&](int64_t s, Metric m, Deviation d) -> Accumulator& {
    auto it = acc.find({s, m, d});
    if (it == acc.end()) {
      Accumulator a;
      a.per_element.assign(k_all, 0.0);
      a.per_sample.assign(n_total, 0.0);
      it = acc.emplace(std::make_tuple(s, m, d), std::move(a)).first;
    }
    return it->second;
  };
  const auto has = [&](Metric m) {
    return std::find(options.metrics.begin(), options.metrics.end(), m) != options.metrics.end();
  };

  std::vector<torch::Tensor> reference(n_stages);
  std::vector<int64_t> reference_count(n_stages, 0);
  for (int64_t start = 0; start < n_total; start += chunk) {
    const int64_t n = std::min(chunk, n_total - start);
    const torch::Tensor x = prepare(inputs.narrow(0, start, n));
    torch::Tensor y = transformed_batch(x, transforms);
    for (int64_t s = 0; s < n_stages; ++s) {
      const Stage& stage = model.stages[s];
      y = stage.forward(y);
      if (std::find(stages.begin(), stages.end(), s) == stages.end()) continue;
      std::vector<torch::Tensor> yk;
      for (int64_t k = 0; k < k_all; ++k)
        yk.push_back(y.narrow(0, k * n, n));
      const torch::Tensor& f0 = yk[0];
      // the first samples' features, for the normalisation (independent of the chunking), in
      // the features' own memory format (a plain copy; the pair sums take any dense layout)
      torch::Tensor& kept = reference[s];
      const int64_t want = std::min(kMaxNormalisationSamples, n_total);
      if (options.normalised && reference_count[s] < want) {
        if (!kept.defined()) {
          std::vector<int64_t> sizes = f0.sizes().vec();
          sizes[0] = want;
          kept = at::empty(sizes, f0.options().memory_format(f0.suggest_memory_format()));
        }
        const int64_t m = std::min(n, want - reference_count[s]);
        kept.narrow(0, reference_count[s], m).copy_(f0.narrow(0, 0, m));
        reference_count[s] += m;
      }
      const std::vector<Deviation>& devs = options.deviations;
      // The fused pass where it applies: every transform acts on this stage as an exact group
      // action (or only invariance is asked), on a dense CPU map. Otherwise the targets g.f(x)
      // are materialised through stage.action.
      std::vector<ExactAction> exact(k_all);  // identity where not needed
      bool exact_equivariance = has(Metric::Equivariance) && stage.exact_action != nullptr;
      for (int64_t k = first; k < k_all && exact_equivariance; ++k) {
        const std::optional<ExactAction> a = stage.exact_action(transforms[k]);
        exact_equivariance = a.has_value();
        if (a) exact[k] = *a;
      }
      if (!exact_equivariance) exact.assign(k_all, ExactAction{});
      const bool fused = (exact_equivariance || has(Metric::Invariance)) &&
                         stage_sums_supported(y, exact);
      if (fused) {
        const StageSums sums =
            stage_sums(y, k_all, first, exact, exact_equivariance, has(Metric::Invariance));
        for (int64_t k = first; k < k_all; ++k)
          for (int64_t i = 0; i < n; ++i)
            for (const Deviation d : devs) {
              const double a2 = sums.norm2[k * n + i];
              if (exact_equivariance)
                add(slot(s, Metric::Equivariance, d), k, start + i,
                    sums::from_sums(d, sums.equivariance2[k * n + i], a2, sums.norm2[i]));
              if (has(Metric::Invariance))
                add(slot(s, Metric::Invariance, d), k, start + i,
                    sums::from_sums(d, sums.invariance2[k * n + i], a2, sums.centroid2[i]));
            }
      }
      if (has(Metric::Equivariance) && !(fused && exact_equivariance)) {
        bool defined = true;
        for (int64_t k = first; k < k_all && defined; ++k) {
          const std::optional<torch::Tensor> target = stage.action(f0, transforms[k]);
          defined = target && target->sizes() == yk[k].sizes();
          if (!defined) break;
          const std::vector<torch::Tensor> values = deviations(yk[k], *target, devs);
          for (size_t i = 0; i < devs.size(); ++i)
            add(slot(s, Metric::Equivariance, devs[i]), k, start, values[i]);
        }
        if (!defined)
          for (const Deviation d : devs)
            slot(s, Metric::Equivariance, d).defined = false;
      }
      if (has(Metric::Invariance) && !fused) {
        const std::vector<torch::Tensor> copies(yk.begin() + first, yk.end());
        const auto values = centroid_deviations(copies, devs);
        for (int64_t k = first; k < k_all; ++k)
          for (size_t i = 0; i < devs.size(); ++i)
            add(slot(s, Metric::Invariance, devs[i]), k, start, values[k - first][i]);
      }
      if (has(Metric::OutputKL) && s == n_stages - 1 && y.dim() == 2) {
        Accumulator& a = slot(s, Metric::OutputKL, Deviation::KL);
        std::vector<torch::Tensor> p;
        torch::Tensor mean = torch::zeros({n, y.size(1)}, torch::kDouble);
        for (int64_t k = first; k < k_all; ++k) {
          p.push_back(torch::softmax(yk[k].to(torch::kDouble), 1));
          mean += p.back();
        }
        mean /= static_cast<double>(used);
        for (int64_t k = first; k < k_all; ++k)
          add(a, k, start, deviation(p[k - first], mean, Deviation::KL));
      }
    }
    if (options.progress) options.progress(start + n, n_total);
  }

  // Normalisation scales, one Gram matrix per stage (shared by the metrics and deviations).
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
