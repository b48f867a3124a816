#include "eqnn/probe/fitted_action.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <tuple>

#include "stages.h"

namespace eqnn {
namespace probe {
namespace {

using namespace detail;  // stages.h

constexpr const char* kFitWho = "eqnn::probe::fit_latent_actions";

/// The stage's features as a matrix: one row per sample and position, one column per channel
/// (float64). (N, C) stays; (N, C, H, W) becomes (N H W, C).
torch::Tensor channel_rows(const torch::Tensor& y) {
  const torch::Tensor d = y.to(torch::kDouble);
  if (d.dim() == 2) return d.contiguous();
  return d.permute({0, 2, 3, 1}).reshape({-1, d.size(1)});
}

/// M_g applied to features y (N, C[, H, W]) of the same layout.
torch::Tensor apply_permutation(const torch::Tensor& y, const std::vector<int64_t>& perm) {
  const torch::Tensor index = torch::tensor(perm, torch::TensorOptions(torch::kLong));
  return y.index_select(1, index.to(y.device()));
}

torch::Tensor apply_linear(const torch::Tensor& y, const torch::Tensor& w) {
  // (M y)_c = sum_d W[c][d] y_d on every sample and position
  const torch::Tensor out = torch::tensordot(y.to(torch::kDouble), w.to(y.device()), {1}, {1});
  return y.dim() == 2 ? out : out.permute({0, 3, 1, 2});
}

/// The index of the product of fitted transforms a and b (g_a g_b), or -1 when it is not fitted or
/// the transforms do not compose in a known way.
int64_t product_index(const std::vector<Transform>& fitted, size_t a, size_t b) {
  const Transform &g = fitted[a], &h = fitted[b];
  for (size_t k = 0; k < fitted.size(); ++k) {
    const Transform& p = fitted[k];
    if (g.kind == Transform::Kind::GroupElement && h.kind == g.kind && p.kind == g.kind &&
        g.group == h.group && p.group == g.group &&
        p.element == g.group.compose(g.element, h.element))
      return static_cast<int64_t>(k);
    if (g.kind == Transform::Kind::Rotation && h.kind == g.kind && p.kind == g.kind) {
      const double turn = std::remainder(g.degrees + h.degrees - p.degrees, 360.0);
      if (std::abs(turn) < 1e-9) return static_cast<int64_t>(k);
    }
  }
  return -1;
}

/// Sums of one stage under one transform over the fitting samples: A = L_g f(x), B = f(g.x), as
/// channel rows.
struct FitSums {
  torch::Tensor aa, ba;  // A^T A, B^T A (C, C)
  torch::Tensor a, b;    // column sums
  torch::Tensor b2;      // column sums of B^2
  int64_t rows = 0;
};

struct StageFit {
  StageInfo info;
  bool fitted = false;
  std::string why_not;        // why the stage is not fitted
  std::vector<FitSums> sums;  // per fitted transform
};

/// The permutation maximising the summed correlation of channels of B with channels of A.
std::vector<int64_t> fit_permutation(const FitSums& s) {
  const double n = static_cast<double>(s.rows);
  const torch::Tensor mean_a = s.a / n, mean_b = s.b / n;
  const torch::Tensor var_a = (s.aa.diagonal() / n - mean_a * mean_a).clamp_min(0);
  const torch::Tensor var_b = (s.b2 / n - mean_b * mean_b).clamp_min(0);
  const torch::Tensor cov = s.ba / n - torch::outer(mean_b, mean_a);
  // a channel without variance correlates with nothing (0), so it is matched by elimination
  const torch::Tensor scale = torch::outer(var_b, var_a).sqrt();
  const torch::Tensor corr =
      torch::where(scale > 1e-300, cov / scale.clamp_min(1e-300), torch::zeros_like(cov));
  return min_cost_assignment(-corr);
}

/// W = (B^T A)(A^T A + lambda I)^-1.
torch::Tensor fit_linear(const FitSums& s, double ridge) {
  const int64_t c = s.aa.size(0);
  const double lambda = ridge * s.aa.trace().item<double>() / static_cast<double>(c);
  const torch::Tensor gram = s.aa + lambda * torch::eye(c, s.aa.options());
  // W gram = B^T A  <=>  gram^T W^T = (B^T A)^T; gram is symmetric
  return torch::linalg::solve(gram, s.ba.t(), true).t().contiguous();
}

}  // namespace

const char* to_string(FittedMap map) {
  return map == FittedMap::Permutation ? "permutation" : "linear";
}

std::vector<int64_t> min_cost_assignment(const torch::Tensor& cost_in) {
  TORCH_CHECK(cost_in.dim() == 2 && cost_in.size(0) == cost_in.size(1),
              "eqnn::probe::min_cost_assignment: expected a square matrix, got ", cost_in.sizes());
  const torch::Tensor cost = cost_in.to(torch::kDouble).contiguous();
  TORCH_CHECK(torch::isfinite(cost).all().item<bool>(),
              "eqnn::probe::min_cost_assignment: the costs must be finite");
  const int64_t n = cost.size(0);
  const double* a = cost.data_ptr<double>();
  // Kuhn-Munkres with row and column potentials u, v: rows are added one at a time, each by a
  // shortest augmenting path in reduced costs a[i][j] - u[i] - v[j] (1-based, column 0 is the
  // virtual start).
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0), v(n + 1, 0);
  std::vector<int64_t> row_of(n + 1, 0), way(n + 1, 0);
  for (int64_t i = 1; i <= n; ++i) {
    row_of[0] = i;
    int64_t j0 = 0;
    std::vector<double> min_to(n + 1, inf);
    std::vector<char> used(n + 1, 0);
    do {
      used[j0] = 1;
      const int64_t i0 = row_of[j0];
      double delta = inf;
      int64_t j1 = 0;
      for (int64_t j = 1; j <= n; ++j) {
        if (used[j]) continue;
        const double reduced = a[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
        if (reduced < min_to[j]) {
          min_to[j] = reduced;
          way[j] = j0;
        }
        if (min_to[j] < delta) {
          delta = min_to[j];
          j1 = j;
        }
      }
      for (int64_t j = 0; j <= n; ++j) {
        if (used[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else {
          min_to[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[j0] != 0);
    do {  // flip the augmenting path
      const int64_t j1 = way[j0];
      row_of[j0] = row_of[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int64_t> column(n, -1);
  for (int64_t j = 1; j <= n; ++j)
    column[row_of[j] - 1] = j - 1;
  return column;
}

FittedActions fit_latent_actions(const ProbedModel& model, const torch::Tensor& inputs,
                                 const std::vector<Transform>& transforms,
                                 const FittedActionOptions& options) {
  TORCH_CHECK(model.run != nullptr, kFitWho, ": model '", model.name, "' has no forward");
  TORCH_CHECK(inputs.defined() && inputs.dim() == 4 && inputs.is_floating_point(), kFitWho,
              ": expected a floating-point batch (B, C, H, W), got ",
              inputs.defined() ? inputs.sizes() : at::IntArrayRef{});
  const int64_t n = inputs.size(0);
  TORCH_CHECK(options.fit_fraction > 0 && options.fit_fraction < 1, kFitWho,
              ": fit_fraction must be in (0, 1), got ", options.fit_fraction);
  TORCH_CHECK(options.ridge >= 0 && std::isfinite(options.ridge), kFitWho,
              ": ridge must be finite and >= 0, got ", options.ridge);
  TORCH_CHECK(options.batch_size > 0, kFitWho, ": batch_size must be positive, got ",
              options.batch_size);
  TORCH_CHECK(!options.maps.empty() && !options.deviations.empty(), kFitWho,
              ": give at least one map and one deviation");
  for (Deviation d : options.deviations)
    TORCH_CHECK(d != Deviation::KL, kFitWho, ": the latent deviations are cosine and euclidean");
  TORCH_CHECK(n >= 2, kFitWho, ": expected at least 2 samples (one to fit, one to measure), got ",
              n);
  const int64_t n_fit =
      std::clamp<int64_t>(std::llround(options.fit_fraction * static_cast<double>(n)), 1, n - 1);
  const bool want_perm = std::find(options.maps.begin(), options.maps.end(),
                                   FittedMap::Permutation) != options.maps.end();
  const bool want_linear =
      std::find(options.maps.begin(), options.maps.end(), FittedMap::Linear) != options.maps.end();

  const TransformSet set = transform_set(transforms, kFitWho);
  std::vector<Transform> fitted(set.all.begin() + set.first, set.all.end());
  const int64_t k_all = set.count();
  c10::InferenceMode inference;

  // One forward of every transformed copy of samples [begin, end): the stages' outputs.
  std::vector<StageInfo> infos;
  const auto forward = [&](int64_t begin, int64_t end) {
    const torch::Tensor x = inputs.narrow(0, begin, end - begin);
    torch::Tensor output;
    const std::vector<Event> events = capture_all(model, transformed_batch(x, set.all), &output);
    std::vector<StageInfo> now = stages_of_events(model, events, output);
    if (infos.empty()) infos = now;
    TORCH_CHECK(now.size() == infos.size(), kFitWho, ": model '", model.name,
                "' captured a different number of stages for another batch");
    std::vector<torch::Tensor> outputs;
    for (size_t s = 0; s < now.size(); ++s)
      outputs.push_back(s < events.size() ? events[s].output : output);
    if (options.progress) options.progress(end, n);
    return outputs;
  };

  // Pass 1: the sums of the fitting samples.
  std::vector<StageFit> fits;
  for (int64_t begin = 0; begin < n_fit; begin += options.batch_size) {
    const int64_t end = std::min(n_fit, begin + options.batch_size), b = end - begin;
    const std::vector<torch::Tensor> outputs = forward(begin, end);
    if (fits.empty()) {
      fits.resize(outputs.size());
      for (size_t s = 0; s < outputs.size(); ++s) {
        fits[s].info = infos[s];
        const int64_t dim = outputs[s].dim();
        const bool chosen =
            options.stages.empty() || std::find(options.stages.begin(), options.stages.end(),
                                                static_cast<int64_t>(s)) != options.stages.end();
        fits[s].fitted = chosen && (dim == 2 || dim == 4);
        if (!fits[s].fitted)
          fits[s].why_not = chosen ? "n/a (features of rank " + std::to_string(dim) +
                                         ": expected (N, C) or (N, C, H, W))"
                                   : "";
      }
      for (int64_t s : options.stages)
        TORCH_CHECK(s >= 0 && s < static_cast<int64_t>(fits.size()), kFitWho, ": stage index ", s,
                    " is out of range (the model has ", fits.size(), " stages)");
    }
    for (size_t s = 0; s < fits.size(); ++s) {
      StageFit& fit = fits[s];
      if (!fit.fitted) continue;
      const torch::Tensor& y = outputs[s];
      TORCH_CHECK(torch::isfinite(y).all().item<bool>(), kFitWho, ": the features of stage ", s,
                  " '", fit.info.label, "' of model '", model.name, "' are not finite");
      const torch::Tensor f0 = y.narrow(0, 0, b);
      if (fit.sums.empty()) fit.sums.resize(fitted.size());
      for (int64_t k = set.first; k < k_all; ++k) {
        const torch::Tensor a = channel_rows(set.all[k].apply_to_plane(f0));
        const torch::Tensor bb = channel_rows(y.narrow(0, k * b, b));
        TORCH_CHECK(a.sizes() == bb.sizes(), kFitWho, ": stage ", s, " '", fit.info.label,
                    "': ", set.all[k].name, " changes the feature shape");
        FitSums& sums = fit.sums[k - set.first];
        if (!sums.aa.defined()) {
          const int64_t c = a.size(1);
          sums.aa = torch::zeros({c, c}, a.options());
          sums.ba = torch::zeros({c, c}, a.options());
          sums.a = torch::zeros({c}, a.options());
          sums.b = torch::zeros({c}, a.options());
          sums.b2 = torch::zeros({c}, a.options());
        }
        sums.aa += a.t().mm(a);
        sums.ba += bb.t().mm(a);
        sums.a += a.sum(0);
        sums.b += bb.sum(0);
        sums.b2 += (bb * bb).sum(0);
        sums.rows += a.size(0);
      }
    }
  }

  // The fits, and how they compose.
  FittedActions result;
  result.fit_samples = n_fit;
  for (const Transform& t : fitted)
    result.transforms.push_back(t.name);
  std::vector<FittedStage> stages(fits.size());
  for (size_t s = 0; s < fits.size(); ++s) {
    FittedStage& st = stages[s];
    st.stage_index = static_cast<int64_t>(s);
    st.stage = fits[s].info.label;
    if (!fits[s].fitted) continue;
    st.channels = fits[s].sums.front().aa.size(0);
    for (const FitSums& sums : fits[s].sums) {
      if (want_perm) st.permutations.push_back(fit_permutation(sums));
      if (want_linear) st.linear.push_back(fit_linear(sums, options.ridge));
    }
    int64_t pairs = 0, failures = 0;
    double error_sum = 0, error_max = 0;
    for (size_t g = 0; g < fitted.size(); ++g)
      for (size_t h = 0; h < fitted.size(); ++h) {
        const int64_t gh = product_index(fitted, g, h);
        if (gh < 0) continue;
        ++pairs;
        if (want_perm) {
          const auto &pg = st.permutations[g], &ph = st.permutations[h],
                     &pgh = st.permutations[static_cast<size_t>(gh)];
          bool same = true;  // (M_g M_h y)_c = y_{ph[pg[c]]}
          for (int64_t c = 0; c < st.channels; ++c)
            same = same && pgh[c] == ph[pg[c]];
          failures += !same;
        }
        if (want_linear) {
          const torch::Tensor& wgh = st.linear[static_cast<size_t>(gh)];
          const double e = (st.linear[g].mm(st.linear[h]) - wgh).norm().item<double>() /
                           std::max(wgh.norm().item<double>(), std::numeric_limits<double>::min());
          error_sum += e;
          error_max = std::max(error_max, e);
        }
      }
    st.composition_pairs = pairs;
    if (pairs > 0) {
      if (want_perm) st.permutation_failures = static_cast<double>(failures) / pairs;
      if (want_linear) {
        st.linear_composition_error = error_sum / static_cast<double>(pairs);
        st.linear_composition_error_max = error_max;
      }
    }
  }

  // Pass 2: the held-out G-EED under the fixed and the fitted actions.
  const int64_t n_test = n - n_fit, n_used = static_cast<int64_t>(fitted.size());
  const size_t n_dev = options.deviations.size();
  enum Kind { Fixed, Permutation, Linear, kKinds };
  // per stage, kind, deviation: per-element and per-sample sums
  struct Acc {
    std::vector<double> per_element, per_sample;
    bool defined = true;
  };
  std::vector<std::vector<std::vector<Acc>>> acc(
      fits.size(), std::vector<std::vector<Acc>>(
                       kKinds, std::vector<Acc>(n_dev, Acc{std::vector<double>(n_used, 0.0),
                                                           std::vector<double>(n_test, 0.0)})));
  std::vector<std::string> fixed_why(fits.size());
  for (int64_t begin = n_fit; begin < n; begin += options.batch_size) {
    const int64_t end = std::min(n, begin + options.batch_size), b = end - begin;
    const std::vector<torch::Tensor> outputs = forward(begin, end);
    for (size_t s = 0; s < fits.size(); ++s) {
      if (!fits[s].fitted) continue;
      const torch::Tensor& y = outputs[s];
      TORCH_CHECK(torch::isfinite(y).all().item<bool>(), kFitWho, ": the features of stage ", s,
                  " '", fits[s].info.label, "' of model '", model.name, "' are not finite");
      const torch::Tensor f0 = y.narrow(0, 0, b);
      if (begin == n_fit) fixed_why[s] = not_applicable(fits[s].info, y, set);
      for (int64_t k = set.first; k < k_all; ++k) {
        const size_t e = static_cast<size_t>(k - set.first);
        const torch::Tensor moved = y.narrow(0, k * b, b).to(torch::kDouble);
        const torch::Tensor plane = set.all[k].apply_to_plane(f0);
        std::optional<torch::Tensor> targets[kKinds];
        if (fixed_why[s].empty()) targets[Fixed] = fits[s].info.action.apply(f0, set.all[k]);
        if (want_perm) targets[Permutation] = apply_permutation(plane, stages[s].permutations[e]);
        if (want_linear) targets[Linear] = apply_linear(plane, stages[s].linear[e]);
        for (int kind = 0; kind < kKinds; ++kind) {
          if (!targets[kind]) {
            for (Acc& a : acc[s][kind])
              a.defined = false;
            continue;
          }
          const std::vector<torch::Tensor> d =
              deviations(moved, targets[kind]->to(torch::kDouble), options.deviations);
          for (size_t j = 0; j < n_dev; ++j) {
            const torch::Tensor v = d[j].contiguous();
            const double* p = v.data_ptr<double>();
            Acc& a = acc[s][kind][j];
            for (int64_t i = 0; i < b; ++i) {
              a.per_element[e] += p[i];
              a.per_sample[begin - n_fit + i] += p[i];
            }
          }
        }
      }
    }
  }

  // The report.
  Report& report = result.report;
  report.samples = n_test;
  report.transforms = result.transforms;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Each kind of action is a "model" of its own, so that a chart draws them as lines side by side.
  const std::string names[kKinds] = {model.name + " [fixed action, held out]",
                                     model.name + " [fitted permutation]",
                                     model.name + " [fitted linear]"};
  for (size_t s = 0; s < fits.size(); ++s) {
    if (!fits[s].fitted && fits[s].why_not.empty()) continue;
    const auto base_row = [&](int kind, const std::string& metric, const std::string& deviation) {
      ReportRow row;
      row.model = names[kind];
      row.stage_index = static_cast<int64_t>(s);
      row.stage = fits[s].info.label;
      row.metric = metric;
      row.deviation = deviation;
      row.value = nan;
      return row;
    };
    for (int kind = 0; kind < kKinds; ++kind) {
      if ((kind == Permutation && !want_perm) || (kind == Linear && !want_linear)) continue;
      for (size_t j = 0; j < n_dev; ++j) {
        ReportRow row = base_row(kind, "equivariance", to_string(options.deviations[j]));
        if (!fits[s].fitted) {
          row.action = fits[s].why_not;
        } else if (kind == Fixed) {
          row.action = fixed_why[s].empty() ? fits[s].info.action.name() : fixed_why[s];
        } else {
          row.action = kind == Permutation
                           ? "fitted channel permutation x plane"
                           : "fitted linear map on " + std::to_string(stages[s].channels) +
                                 " channels x plane";
        }
        const Acc& a = acc[s][kind][j];
        if (fits[s].fitted && a.defined && (kind != Fixed || fixed_why[s].empty())) {
          double total = 0;
          for (double v : a.per_element) {
            row.per_element.push_back(v / static_cast<double>(n_test));
            total += v;
          }
          for (double v : a.per_sample)
            row.per_sample.push_back(v / static_cast<double>(n_used));
          row.value = total / static_cast<double>(n_test * n_used);
        }
        report.rows.push_back(std::move(row));
      }
      if (fits[s].fitted && kind != Fixed) {
        ReportRow row =
            base_row(kind, "composition", kind == Permutation ? "pairs" : "relative_frobenius");
        row.action = std::to_string(stages[s].composition_pairs) + " pairs (g, h)";
        row.value = kind == Permutation ? stages[s].permutation_failures
                                        : stages[s].linear_composition_error;
        report.rows.push_back(std::move(row));
      }
    }
  }
  std::stable_sort(report.rows.begin(), report.rows.end(),
                   [](const ReportRow& a, const ReportRow& b) {
                     return std::tie(a.model, a.stage_index, a.metric, a.deviation) <
                            std::tie(b.model, b.stage_index, b.metric, b.deviation);
                   });
  report.add_uncertainty(options.uncertainty);
  for (int kind = 0; kind < kKinds; ++kind)
    report.provenance[names[kind]] = {{"fit_samples", std::to_string(n_fit)},
                                      {"held_out_samples", std::to_string(n_test)},
                                      {"ridge", std::to_string(options.ridge)},
                                      {"threads", std::to_string(at::get_num_threads())}};
  result.stages = std::move(stages);
  return result;
}

}  // namespace probe
}  // namespace eqnn
