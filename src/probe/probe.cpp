// run_probe in four steps: plan (transforms, and the stages found by a first forward of one
// sample), chunk (all transformed copies of a chunk in one forward, each captured output measured
// as it is produced), accumulate (per-stage typed sums, fused where the action is exact) and
// report. run_probe_reference shares the plan and the report and computes the sums from plain
// ATen.
#include "eqnn/probe/probe.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/version.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <limits>
#include <optional>
#include <unordered_map>

#include "eqnn/detail/group_action_kernel.h"
#include "eqnn/memory_format.h"
#include "eqnn/ops.h"
#include "eqnn/threads.h"
#include "eqnn/version.h"
#include "stage_sums.h"
#include "stages.h"
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

using namespace detail;  // stages.h

// ---------------------------------------------------------------------------------------------
// Plan

/// How many samples give the normalisation scales (metrics.md section 3).
int64_t normalisation_count(const ProbeOptions& options, int64_t samples) {
  return options.normalisation_samples > 0 ? std::min(options.normalisation_samples, samples)
                                           : samples;
}

bool wants(const ProbeOptions& options, Metric m) {
  return std::find(options.metrics.begin(), options.metrics.end(), m) != options.metrics.end();
}

void check_arguments(const ProbedModel& model, const torch::Tensor& inputs,
                     const ProbeOptions& options) {
  TORCH_CHECK(model.run != nullptr, "eqnn::probe::run_probe: model '", model.name,
              "' has no forward");
  TORCH_CHECK(
      inputs.defined() && inputs.dim() == 4 && inputs.size(0) > 0 && inputs.is_floating_point(),
      "eqnn::probe::run_probe: expected a non-empty floating-point batch (B, C, H, W), got ",
      inputs.defined() ? inputs.sizes() : at::IntArrayRef{});
  TORCH_CHECK(options.memory_budget_bytes > 0,
              "eqnn::probe::run_probe: the memory budget must be positive, got ",
              options.memory_budget_bytes);
  TORCH_CHECK(options.normalisation_samples >= 0,
              "eqnn::probe::run_probe: normalisation_samples must be >= 0 (0: all), got ",
              options.normalisation_samples);
  TORCH_CHECK(!options.deviations.empty() ||
                  !(wants(options, Metric::Equivariance) || wants(options, Metric::Invariance)),
              "eqnn::probe::run_probe: no deviations given for the latent metrics");
}

// ---------------------------------------------------------------------------------------------
// Accumulate

/// Sums of one metric: over samples per transform, and over transforms per sample.
struct Series {
  std::vector<double> per_element, per_sample;
  Series() = default;
  Series(int64_t transforms, int64_t samples) : per_element(transforms), per_sample(samples) {}
  void add(int64_t k, int64_t sample, double value) {
    per_element[k] += value;
    per_sample[sample] += value;
  }
  void add(int64_t k, int64_t sample0, const torch::Tensor& values) {
    const torch::Tensor v = values.to(torch::kDouble).cpu().contiguous();
    const double* p = v.data_ptr<double>();
    for (int64_t i = 0; i < v.numel(); ++i)
      add(k, sample0 + i, p[i]);
  }
};

/// Everything measured at one stage.
struct StageResult {
  StageInfo info;
  bool probed = false;
  std::string not_applicable;        // latent equivariance: "" where applicable
  std::vector<Series> equivariance;  // per deviation (empty: not asked or not applicable)
  std::vector<Series> invariance;    // per deviation (empty: not asked)
  std::optional<Series> output_kl;   // at the output, for (N, classes) logits
  std::vector<PairwiseMean> scales;  // per deviation, for the normalised G-EED
};

/// Fixed for the run: where every transform acts on the stage as an exact group action, those
/// actions (the fused pass then builds g.f(x) itself; otherwise targets are materialised).
struct StagePlan {
  std::vector<ExactAction> exact;
  bool exact_equivariance = false;
  torch::Tensor kept;  // the first samples' features (copy 0), for the normalisation
  int64_t kept_count = 0;
};

StageResult new_result(const StageInfo& info, bool probed, const torch::Tensor& sample,
                       const TransformSet& set, int64_t samples, const ProbeOptions& options) {
  StageResult r;
  r.info = info;
  r.probed = probed;
  if (!probed) return r;
  const size_t devs = options.deviations.size();
  if (wants(options, Metric::Equivariance)) {
    r.not_applicable = not_applicable(info, sample, set);
    if (r.not_applicable.empty()) r.equivariance.assign(devs, Series(set.count(), samples));
  }
  if (wants(options, Metric::Invariance)) r.invariance.assign(devs, Series(set.count(), samples));
  if (wants(options, Metric::OutputKL) && info.is_output && sample.dim() == 2)
    r.output_kl = Series(set.count(), samples);
  return r;
}

/// Output invariance of one chunk's logits (K n, classes), transform-major: adds
/// KL(p_k || mean over counted k of p_k), p = softmax in float64, per sample and copy. A row
/// with NaN gives NaN (reported as an error), never 0.
void add_output_kl(Series& acc, const torch::Tensor& logits, int64_t n, const TransformSet& set,
                   int64_t start) {
  const int64_t k_all = set.count(), classes = logits.size(1);
  const double used = static_cast<double>(set.used());
  const torch::Tensor z = logits.to(torch::kDouble).cpu().contiguous();
  const double* zp = z.data_ptr<double>();
  std::vector<double> p(static_cast<size_t>(k_all * classes)), mean(classes);
  for (int64_t i = 0; i < n; ++i) {
    std::fill(mean.begin(), mean.end(), 0.0);
    for (int64_t k = set.first; k < k_all; ++k) {
      const double* row = zp + (k * n + i) * classes;
      double* pk = p.data() + k * classes;
      const double top = *std::max_element(row, row + classes);
      double total = 0;
      for (int64_t c = 0; c < classes; ++c)
        total += pk[c] = std::exp(row[c] - top);
      for (int64_t c = 0; c < classes; ++c) {
        pk[c] /= total;
        mean[c] += pk[c] / used;
      }
    }
    for (int64_t k = set.first; k < k_all; ++k) {
      const double* pk = p.data() + k * classes;
      double kl = 0;  // 0 log 0 = 0; the mean is clamped like deviation(..., KL)
      for (int64_t c = 0; c < classes; ++c)
        if (!(pk[c] == 0)) kl += pk[c] * (std::log(pk[c]) - std::log(std::max(mean[c], 1e-12)));
      acc.add(k, start + i, kl);
    }
  }
}

/// The fast path's per-stage accumulation of one chunk's output y (K n, ...).
class FastAccumulator {
 public:
  FastAccumulator(const TransformSet& set, const ProbeOptions& options, int64_t samples)
      : set_(set), options_(options) {
    for (const Deviation d : options.deviations)
      pair_sums_ = pair_sums_ && d != Deviation::KL;  // the fused pass gives cosine and euclidean
    normalisation_ = normalisation_count(options, samples);
  }

  StagePlan plan(const StageResult& r, const torch::Tensor& sample) const {
    StagePlan plan;
    plan.exact.assign(set_.count(), ExactAction{});
    plan.exact_equivariance = !r.equivariance.empty();
    for (int64_t k = set_.first; k < set_.count() && plan.exact_equivariance; ++k) {
      const auto a = r.info.action.exact(set_.all[k], sample.sizes());
      plan.exact_equivariance = a.has_value();
      if (a) plan.exact[k] = *a;
    }
    if (!plan.exact_equivariance) plan.exact.assign(set_.count(), ExactAction{});
    return plan;
  }

  void add(StageResult& r, StagePlan& plan, const torch::Tensor& y, int64_t start,
           int64_t n) const {
    const auto copy = [&](int64_t k) { return y.narrow(0, k * n, n); };
    const std::vector<Deviation>& devs = options_.deviations;
    const bool equivariance = !r.equivariance.empty(), invariance = !r.invariance.empty();
    // the scales normalise the latent metrics only (the output KL is not normalised)
    if (options_.normalised && (equivariance || invariance) && plan.kept_count < normalisation_)
      keep(plan, y, n);
    // Features without a plane, (K n, F), are 1x1 maps for the fused pass.
    const torch::Tensor maps = y.dim() == 2 ? y.contiguous().view({y.size(0), y.size(1), 1, 1}) : y;
    const bool fused = options_.fused && pair_sums_ && (plan.exact_equivariance || invariance) &&
                       stage_sums_supported(maps, plan.exact);
    const bool fused_equivariance = fused && plan.exact_equivariance;
    if (fused) {
      const StageSums t =
          stage_sums(maps, set_.count(), set_.first, plan.exact, fused_equivariance, invariance);
      for (size_t j = 0; j < devs.size(); ++j)
        for (int64_t k = set_.first; k < set_.count(); ++k)
          for (int64_t i = 0; i < n; ++i) {
            const double a2 = t.norm2[k * n + i];
            if (fused_equivariance)
              r.equivariance[j].add(
                  k, start + i,
                  sums::from_sums(devs[j], t.equivariance2[k * n + i], a2, t.norm2[i]));
            if (invariance)
              r.invariance[j].add(
                  k, start + i,
                  sums::from_sums(devs[j], t.invariance2[k * n + i], a2, t.centroid2[i]));
          }
    }
    if (equivariance && !fused_equivariance) {
      const torch::Tensor f0 = copy(0);
      for (int64_t k = set_.first; k < set_.count(); ++k) {
        const std::optional<torch::Tensor> target = r.info.action.apply(f0, set_.all[k]);
        TORCH_CHECK(target && target->sizes() == copy(k).sizes(), "eqnn::probe: the action on ",
                    r.info.label, " changed between chunks");
        const std::vector<torch::Tensor> values = deviations(copy(k), *target, devs);
        for (size_t j = 0; j < devs.size(); ++j)
          r.equivariance[j].add(k, start, values[j]);
      }
    }
    if (invariance && !fused) {
      std::vector<torch::Tensor> copies;
      for (int64_t k = set_.first; k < set_.count(); ++k)
        copies.push_back(copy(k));
      const auto values = centroid_deviations(copies, devs);
      for (int64_t k = set_.first; k < set_.count(); ++k)
        for (size_t j = 0; j < devs.size(); ++j)
          r.invariance[j].add(k, start, values[k - set_.first][j]);
    }
    if (r.output_kl) add_output_kl(*r.output_kl, y, n, set_, start);
  }

  void finish(StageResult& r, const StagePlan& plan) const {
    if (options_.normalised && plan.kept.defined())
      r.scales = mean_pairwise_deviations(plan.kept, options_.deviations);
  }

 private:
  /// The first samples' features, in their own memory format (a plain copy; the pair sums take
  /// any dense layout).
  void keep(StagePlan& plan, const torch::Tensor& y, int64_t n) const {
    if (!plan.kept.defined()) {
      std::vector<int64_t> sizes = y.sizes().vec();
      sizes[0] = normalisation_;
      plan.kept = at::empty(sizes, y.options().memory_format(y.suggest_memory_format()));
    }
    const int64_t m = std::min(n, normalisation_ - plan.kept_count);
    plan.kept.narrow(0, plan.kept_count, m).copy_(y.narrow(0, 0, m));
    plan.kept_count += m;
  }

  const TransformSet& set_;
  const ProbeOptions& options_;
  bool pair_sums_ = true;
  int64_t normalisation_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Report

/// What run_probe knows of where its numbers came from; callers add files, seeds, the command.
Provenance probe_provenance(int64_t samples, int64_t transforms) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return {{"eqnn_version", EQNN_VERSION_STRING},
          {"libtorch_version", TORCH_VERSION},
          {"date", date},
          {"threads", std::to_string(at::get_num_threads())},
          {"samples", std::to_string(samples)},
          {"transforms", std::to_string(transforms)}};
}

Report make_report(const ProbedModel& model, const TransformSet& set, int64_t samples,
                   const std::vector<StageResult>& results, const ProbeOptions& options,
                   int64_t normalisation_samples) {
  Report report;
  report.samples = samples;
  report.normalisation_samples = options.normalised ? normalisation_samples : 0;
  for (int64_t k = set.first; k < set.count(); ++k)
    report.transforms.push_back(set.all[k].name);
  const double used = static_cast<double>(set.used());
  for (size_t s = 0; s < results.size(); ++s) {
    const StageResult& r = results[s];
    if (!r.probed) continue;
    auto row_of = [&](Metric m, Deviation d, const Series* series, int64_t j) {
      ReportRow row;
      row.model = model.name;
      row.stage_index = static_cast<int64_t>(s);
      row.stage = r.info.label;
      row.metric = to_string(m);
      row.deviation = to_string(d);
      if (m == Metric::Equivariance)
        row.action = r.not_applicable.empty() ? r.info.action.name() : r.not_applicable;
      if (!series) row.value = std::numeric_limits<double>::quiet_NaN();  // not applicable
      if (series) {
        double total = 0;
        for (int64_t k = set.first; k < set.count(); ++k) {
          total += series->per_element[k];
          row.per_element.push_back(series->per_element[k] / static_cast<double>(samples));
        }
        for (double v : series->per_sample)
          row.per_sample.push_back(v / used);
        row.value = total / (static_cast<double>(samples) * used);
        TORCH_CHECK(std::isfinite(row.value), "eqnn::probe: ", row.metric, " (", row.deviation,
                    ") at stage ", s, " '", r.info.label, "' of model '", model.name,
                    "' is not finite: the features there contain NaN or Inf for some input");
        // A cosine scale at rounding level means every input points the same way there: no
        // scale to normalise by.
        const double floor = d == Deviation::Cosine ? 1e-6 : 0.0;
        if (j >= 0 && static_cast<size_t>(j) < r.scales.size() && r.scales[j].pairs > 0 &&
            r.scales[j].mean > floor) {
          row.scale = r.scales[j].mean;
          row.scale_standard_error = r.scales[j].standard_error;
          row.normalised = row.value / row.scale;
        }
      }
      report.rows.push_back(std::move(row));
    };
    for (size_t j = 0; j < options.deviations.size(); ++j) {
      const Deviation d = options.deviations[j];
      if (wants(options, Metric::Equivariance))
        row_of(Metric::Equivariance, d, r.equivariance.empty() ? nullptr : &r.equivariance[j],
               static_cast<int64_t>(j));
      if (!r.invariance.empty())
        row_of(Metric::Invariance, d, &r.invariance[j], static_cast<int64_t>(j));
    }
    if (r.output_kl) row_of(Metric::OutputKL, Deviation::KL, &*r.output_kl, -1);
  }
  std::stable_sort(report.rows.begin(), report.rows.end(),
                   [](const ReportRow& a, const ReportRow& b) {
                     return std::tie(a.stage_index, a.metric, a.deviation) <
                            std::tie(b.stage_index, b.metric, b.deviation);
                   });
  report.add_uncertainty(options.uncertainty);
  report.provenance[model.name] = probe_provenance(samples, set.used());
  return report;
}

std::vector<bool> probed_stages(const ProbeOptions& options, size_t count) {
  std::vector<bool> probed(count, options.stages.empty());
  for (int64_t s : options.stages) {
    TORCH_CHECK(s >= 0 && s < static_cast<int64_t>(count), "eqnn::probe::run_probe: stage index ",
                s, " is out of range (the model has ", count, " stages)");
    probed[s] = true;
  }
  return probed;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Chunk

Report run_probe(const ProbedModel& model, const torch::Tensor& inputs,
                 const std::vector<Transform>& transforms, const ProbeOptions& options) {
  check_arguments(model, inputs, options);
  apply_default_allocator_tuning();  // a probe of a plain model builds no eqnn layer
  const TransformSet set = transform_set(transforms);
  const int64_t n_total = inputs.size(0);
  c10::InferenceMode inference;
  const auto prepare = [&](const torch::Tensor& x) {
    return options.channels_last ? to_channels_last(x) : x.contiguous();
  };
  const FastAccumulator accumulator(set, options, n_total);

  // The first chunk is one sample: its forward finds the stages (and their shapes, for the plans)
  // and its outputs' sizes set the chunk size. (A separate sizing forward would cost more than it
  // measures: one image on its own can take LibTorch's slow reference-BLAS convolution.)
  torch::Tensor output;
  const std::vector<Event> first =
      capture_all(model, transformed_batch(prepare(inputs.narrow(0, 0, 1)), set.all), &output);
  const std::vector<StageInfo> stages = stages_of_events(model, first, output);
  const std::vector<bool> probed = probed_stages(options, stages.size());
  std::vector<StageResult> results;
  std::vector<StagePlan> plans;
  int64_t bytes_per_sample = 0, previous = inputs[0].numel() * inputs.element_size() * set.count();
  for (size_t s = 0; s < stages.size(); ++s) {
    const torch::Tensor& y = s < first.size() ? first[s].output : output;
    results.push_back(new_result(stages[s], probed[s], y, set, n_total, options));
    plans.push_back(probed[s] ? accumulator.plan(results.back(), y) : StagePlan{});
    const int64_t bytes = y.numel() * y.element_size();
    bytes_per_sample = std::max(bytes_per_sample, previous + bytes);
    previous = bytes;
  }
  for (size_t s = 0; s < stages.size(); ++s)
    if (probed[s])
      accumulator.add(results[s], plans[s], s < first.size() ? first[s].output : output, 0, 1);
  if (options.progress) options.progress(1, n_total);

  // Map (point, call) -> stage for the streamed chunks.
  std::vector<std::vector<int64_t>> stage_of(model.points.size());
  for (size_t s = 0; s < stages.size(); ++s)
    if (stages[s].point >= 0) stage_of[stages[s].point].push_back(static_cast<int64_t>(s));
  const int64_t chunk = std::clamp<int64_t>(
      options.memory_budget_bytes / std::max<int64_t>(1, bytes_per_sample), 1, n_total);
  for (int64_t start = 1; start < n_total; start += chunk) {
    const int64_t n = std::min(chunk, n_total - start);
    std::vector<int64_t> calls(model.points.size(), 0);
    int64_t events = 0;
    const torch::Tensor x = transformed_batch(prepare(inputs.narrow(0, start, n)), set.all);
    const torch::Tensor out = model.run(x, [&](int64_t point, const torch::Tensor& y) {
      const int64_t call = calls.at(point)++;
      TORCH_CHECK(
          call < static_cast<int64_t>(stage_of[point].size()) && stage_of[point][call] == events,
          "eqnn::probe: model '", model.name, "' captured ", model.points[point].label(),
          " out of the order of its first forward (a forward whose structure depends on "
          "its input cannot be probed stage by stage)");
      ++events;
      const int64_t s = stage_of[point][call];
      if (probed[s]) accumulator.add(results[s], plans[s], y, start, n);
    });
    TORCH_CHECK(events == static_cast<int64_t>(first.size()), "eqnn::probe: model '", model.name,
                "' captured ", events, " outputs in one forward but ", first.size(),
                " in its first forward");
    if (stages.back().point < 0 && probed.back())  // the output, when no capture is
      accumulator.add(results.back(), plans.back(), out, start, n);
    if (options.progress) options.progress(start + n, n_total);
  }
  for (size_t s = 0; s < stages.size(); ++s)
    if (probed[s]) accumulator.finish(results[s], plans[s]);
  const int64_t m = normalisation_count(options, n_total);
  return make_report(model, set, n_total, results, options, m);
}

// ---------------------------------------------------------------------------------------------
// Reference backend: docs/metrics.md, term by term, in float64.

namespace {

torch::Tensor flat64(const torch::Tensor& y) {
  return y.reshape({y.size(0), -1}).to(torch::kDouble);
}

/// m(a_i, b_i) for each row i, straight from metrics.md section 2.
torch::Tensor reference_deviation(const torch::Tensor& a_in, const torch::Tensor& b_in,
                                  Deviation kind) {
  const torch::Tensor a = flat64(a_in), b = flat64(b_in);
  switch (kind) {
    case Deviation::Cosine:
      return 1 - (a * b).sum(1) / (a.norm(2, 1) * b.norm(2, 1)).clamp_min(1e-8);
    case Deviation::Euclidean:
      return (a - b).norm(2, 1);
    case Deviation::KL:
      return (at::xlogy(a, a) - at::xlogy(a, b.clamp_min(1e-12))).sum(1);
  }
  return {};
}

PairwiseMean reference_pairwise(const torch::Tensor& f, Deviation kind) {
  const int64_t n = f.size(0);
  PairwiseMean out;
  out.pairs = n * (n - 1);
  if (n < 2) return out;
  std::vector<double> rows;
  for (int64_t i = 0; i < n; ++i) {
    const torch::Tensor others = torch::cat({f.narrow(0, 0, i), f.narrow(0, i + 1, n - i - 1)});
    rows.push_back(reference_deviation(f.narrow(0, i, 1).expand_as(others), others, kind)
                       .sum()
                       .item<double>());
  }
  const torch::Tensor r = torch::tensor(rows, torch::kDouble) / static_cast<double>(n - 1);
  out.mean = r.mean().item<double>();
  if (n > 2)
    out.standard_error = 2.0 * (r.std() / std::sqrt(static_cast<double>(n))).item<double>();
  return out;
}

}  // namespace

Report run_probe_reference(const ProbedModel& model, const torch::Tensor& inputs,
                           const std::vector<Transform>& transforms, const ProbeOptions& options) {
  check_arguments(model, inputs, options);
  const TransformSet set = transform_set(transforms);
  const int64_t n = inputs.size(0), k_all = set.count();
  c10::InferenceMode inference;
  std::vector<torch::Tensor> copies;
  for (const Transform& tr : set.all) {
    const auto g = tr.kind == Transform::Kind::GroupElement
                       ? LatentAction::plane().apply_reference(inputs, tr)
                       : std::optional<torch::Tensor>(tr.apply(inputs));
    copies.push_back(*g);
  }
  torch::Tensor output;
  const std::vector<Event> events = capture_all(model, torch::cat(copies, 0), &output);
  const std::vector<StageInfo> stages = stages_of_events(model, events, output);
  const std::vector<bool> probed = probed_stages(options, stages.size());
  const int64_t m = normalisation_count(options, n);
  std::vector<StageResult> results;
  for (size_t s = 0; s < stages.size(); ++s) {
    const torch::Tensor& y = s < events.size() ? events[s].output : output;
    StageResult r = new_result(stages[s], probed[s], y, set, n, options);
    if (r.probed) {
      const auto copy = [&](int64_t k) { return y.narrow(0, k * n, n); };
      torch::Tensor centroid = torch::zeros_like(flat64(copy(0)));
      for (int64_t k = set.first; k < k_all; ++k)
        centroid += flat64(copy(k)) / static_cast<double>(set.used());
      for (size_t j = 0; j < options.deviations.size(); ++j) {
        const Deviation d = options.deviations[j];
        for (int64_t k = set.first; k < k_all; ++k) {
          if (!r.equivariance.empty())
            r.equivariance[j].add(
                k, 0,
                reference_deviation(copy(k), *stages[s].action.apply_reference(copy(0), set.all[k]),
                                    d));
          if (!r.invariance.empty())
            r.invariance[j].add(k, 0, reference_deviation(copy(k), centroid, d));
        }
        if (options.normalised)
          r.scales.push_back(reference_pairwise(flat64(copy(0).narrow(0, 0, m)), d));
      }
      if (r.output_kl) {
        const torch::Tensor p = torch::softmax(y.to(torch::kDouble), 1);
        torch::Tensor q = torch::zeros({n, y.size(1)}, p.options());
        for (int64_t k = set.first; k < k_all; ++k)
          q += p.narrow(0, k * n, n) / static_cast<double>(set.used());
        for (int64_t k = set.first; k < k_all; ++k)
          r.output_kl->add(k, 0, reference_deviation(p.narrow(0, k * n, n), q, Deviation::KL));
      }
    }
    results.push_back(std::move(r));
  }
  return make_report(model, set, n, results, options, m);
}

}  // namespace probe
}  // namespace eqnn
