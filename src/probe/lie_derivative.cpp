#include "eqnn/probe/lie_derivative.h"

#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>

#include "eqnn/probe/transforms.h"
#include "lie_norms.h"
#include "stages.h"

namespace eqnn {
namespace probe {
namespace {

using namespace detail;  // stages.h

constexpr double kPi = 3.14159265358979323846;

/// Circular shift of dimension `dim` by s pixels, bilinear between floor(s) and floor(s) + 1.
torch::Tensor shift_circular(const torch::Tensor& x, double s, int64_t dim) {
  const double k = std::floor(s), f = s - k;
  const torch::Tensor a = torch::roll(x, {static_cast<int64_t>(k)}, {dim});
  if (f == 0) return a;
  return a * (1 - f) + torch::roll(x, {static_cast<int64_t>(k) + 1}, {dim}) * f;
}

/// The step of a generator: radians or input pixels.
double step_of(Generator g, const LieDerivativeOptions& options) {
  return g == Generator::Rotation ? options.rotation_step_degrees * kPi / 180.0
                                  : options.translation_step;
}

void check_options(const LieDerivativeOptions& options, const char* who) {
  TORCH_CHECK(!options.generators.empty(), who, ": no generators given");
  TORCH_CHECK(options.rotation_step_degrees > 0 && std::isfinite(options.rotation_step_degrees),
              who, ": rotation_step_degrees must be positive, got ", options.rotation_step_degrees);
  TORCH_CHECK(options.translation_step > 0 && std::isfinite(options.translation_step), who,
              ": translation_step must be positive, got ", options.translation_step);
  TORCH_CHECK(options.batch_size > 0, who, ": batch_size must be positive, got ",
              options.batch_size);
  TORCH_CHECK(options.jvp_step > 0 && std::isfinite(options.jvp_step), who,
              ": jvp_step must be positive, got ", options.jvp_step);
}

void check_inputs(const torch::Tensor& inputs, const char* who) {
  TORCH_CHECK(
      inputs.defined() && inputs.dim() == 4 && inputs.size(0) > 0 && inputs.is_floating_point(),
      who, ": expected a non-empty floating-point batch (B, C, H, W), got ",
      inputs.defined() ? inputs.sizes() : at::IntArrayRef{});
}

/// The flow on a stage's features y, for inputs of width `input_width`.
torch::Tensor flow(const torch::Tensor& y, Generator g, double t, int64_t input_width) {
  if (y.dim() != 4) return y;
  return apply_generator(y, g, t,
                         static_cast<double>(y.size(3)) / static_cast<double>(input_width));
}

/// The generator's action on features y, D y = d/dt rho(t) y at t = 0, in y's precision (0 for
/// features without a plane). Translations: the central difference of the flow,
/// (rho(h) y - rho(-h) y) / 2h. Rotation: in closed form, the central-difference discretisation of
/// d/dt y(R(-t) p) = -(row - row_c) dy/dcol + (col - col_c) dy/drow (counter-clockwise on the
/// screen, as rotate_bilinear; the central difference of the bilinear rotation equals it up to
/// its cross terms, which are of first order in h).
torch::Tensor direction(const torch::Tensor& y, Generator g, double h, int64_t input_width) {
  if (y.dim() != 4) return torch::zeros_like(y);
  if (g != Generator::Rotation)
    return (flow(y, g, h, input_width) - flow(y, g, -h, input_width)) / (2 * h);
  return rotation_generator(y);
}

/// The two moved copies of the inputs, rho(h) x then rho(-h) x. For rotations: x +- h D x, the
/// first-order rotation by the closed-form generator, so that the input and every stage are moved
/// by the same generator (bilinear rotations differ from it at first order in h).
torch::Tensor moved_pair(const torch::Tensor& x, Generator g, double h, int64_t width) {
  if (g != Generator::Rotation)
    return torch::cat({apply_generator(x, g, h), apply_generator(x, g, -h)}, 0);
  const torch::Tensor step = (h * direction(x, g, h, width)).to(x.dtype());
  return torch::cat({x + step, x - step}, 0);
}

/// J_F(z) v by a central difference with step eps = step |z| / |v| per sample (0 where v = 0),
/// in float64; F runs in z's dtype.
torch::Tensor jvp(const std::function<torch::Tensor(const torch::Tensor&)>& f,
                  const torch::Tensor& z, const torch::Tensor& v, double step) {
  const int64_t b = z.size(0);
  const torch::Tensor v_n = v.reshape({b, -1}).norm(2, 1);
  const torch::Tensor z_n = z.to(torch::kDouble).reshape({b, -1}).norm(2, 1);
  const torch::Tensor eps = torch::where(v_n > 0, step * z_n.clamp_min(1.0) / v_n.clamp_min(1e-300),
                                         torch::zeros_like(v_n));
  std::vector<int64_t> shape(static_cast<size_t>(z.dim()), 1);
  shape[0] = b;
  const torch::Tensor delta = (eps.reshape(shape) * v).to(z.dtype());
  const torch::Tensor up = f(z + delta).to(torch::kDouble), down = f(z - delta).to(torch::kDouble);
  std::vector<int64_t> out_shape(static_cast<size_t>(up.dim()), 1);
  out_shape[0] = b;
  const torch::Tensor denom = (2 * eps).reshape(out_shape);
  return torch::where(denom > 0, (up - down) / denom.clamp_min(1e-300), torch::zeros_like(up));
}

std::vector<double> norms(const torch::Tensor& v) {
  const torch::Tensor n = v.reshape({v.size(0), -1}).norm(2, 1).to(torch::kDouble).contiguous();
  return std::vector<double>(n.data_ptr<double>(), n.data_ptr<double>() + n.numel());
}

/// |L_X f_i(x)| per sample of a stage from its features at the two moved copies alone,
/// y = [f_i(rho(h) x); f_i(rho(-h) x)] (2b samples): L = (a - b) / 2h - D_i y0, where y0 stands
/// for f_i(x) (docs/metrics.md, section 8): for translations by a whole number of the stage's
/// pixels the copies moved back, (rho_i(-h) a + rho_i(h) b) / 2 (exactly f_i(x) wherever the
/// stage is equivariant to the shift); otherwise their mean (a + b) / 2. Either differs from
/// f_i(x) at second order in h.
std::vector<double> stage_lie_norms(const torch::Tensor& y, Generator g, double h, int64_t width) {
  const int64_t b = y.size(0) / 2;
  const torch::Tensor up = y.narrow(0, 0, b), down = y.narrow(0, b, b);
  if (y.dim() != 4) return norms((up - down).div_(2 * h));
  if (g == Generator::Rotation) {
    const torch::Tensor n = rotation_lie_norms(up, down, h).contiguous();
    return std::vector<double>(n.data_ptr<double>(), n.data_ptr<double>() + b);
  }
  const double shift = h * static_cast<double>(y.size(3)) / static_cast<double>(width);
  const torch::Tensor centre = std::abs(shift - std::round(shift)) < 1e-9
                                   ? (flow(up, g, -h, width) + flow(down, g, h, width)).mul_(0.5)
                                   : (up + down).mul_(0.5);
  return norms((up - down).div_(2 * h).sub_(direction(centre, g, h, width)));
}

/// A row whose value is the mean of `per_sample`.
ReportRow mean_row(const std::string& model, int64_t stage_index, const std::string& stage,
                   const std::string& metric, const std::string& deviation,
                   const std::string& action, std::vector<double> per_sample) {
  ReportRow row;
  row.model = model;
  row.stage_index = stage_index;
  row.stage = stage;
  row.metric = metric;
  row.deviation = deviation;
  row.action = action;
  double total = 0;
  for (double v : per_sample) {
    TORCH_CHECK(std::isfinite(v), "eqnn::probe: ", metric, " (", deviation, ") at stage ",
                stage_index, " '", stage, "' of model '", model,
                "' is not finite: the features there contain NaN or Inf for some input");
    total += v;
  }
  row.value = total / static_cast<double>(std::max<size_t>(1, per_sample.size()));
  row.per_sample = std::move(per_sample);
  return row;
}

std::string action_of(const torch::Tensor& y) {
  return y.dim() == 4 ? "plane flow (channels fixed)" : "identity (features without a plane)";
}

}  // namespace

const char* to_string(Generator generator) {
  switch (generator) {
    case Generator::Rotation:
      return "rotation";
    case Generator::TranslationX:
      return "translation_x";
    case Generator::TranslationY:
      return "translation_y";
  }
  return "?";
}

Generator generator_from_name(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (Generator g : {Generator::Rotation, Generator::TranslationX, Generator::TranslationY})
    if (key == to_string(g)) return g;
  TORCH_CHECK(false, "eqnn::probe: unknown generator '", name,
              "'; expected rotation, translation_x or translation_y");
}

torch::Tensor apply_generator(const torch::Tensor& x, Generator generator, double t, double scale) {
  if (x.dim() != 4) return x;
  switch (generator) {
    case Generator::Rotation:
      return rotate_bilinear(x, t * 180.0 / kPi);
    case Generator::TranslationX:
      return shift_circular(x, t * scale, 3);
    case Generator::TranslationY:
      return shift_circular(x, t * scale, 2);
  }
  return x;
}

Report lie_derivatives(const ProbedModel& model, const torch::Tensor& inputs,
                       const LieDerivativeOptions& options) {
  constexpr const char* kWho = "eqnn::probe::lie_derivatives";
  TORCH_CHECK(model.run != nullptr, kWho, ": model '", model.name, "' has no forward");
  check_inputs(inputs, kWho);
  check_options(options, kWho);
  c10::InferenceMode inference;
  const int64_t n = inputs.size(0), width = inputs.size(3);
  const size_t n_gen = options.generators.size();
  std::vector<StageInfo> stages;
  std::vector<std::string> actions;
  // per generator, stage: per-sample norms
  std::vector<std::vector<std::vector<double>>> values(n_gen);
  int64_t done = 0;
  for (int64_t begin = 0; begin < n; begin += options.batch_size) {
    const int64_t b = std::min(options.batch_size, n - begin);
    const torch::Tensor x = inputs.narrow(0, begin, b);
    for (size_t gi = 0; gi < n_gen; ++gi) {
      const Generator g = options.generators[gi];
      const double h = step_of(g, options);
      // one forward of both moved copies, rho(h) x then rho(-h) x; each stage is reduced to its
      // norms as it comes (nothing is kept but the last stage, for stages_of_events)
      std::vector<Event> events;
      std::vector<std::vector<double>> stage_norms;
      std::vector<std::string> stage_actions;
      torch::Tensor last;
      const torch::Tensor output =
          model.run(moved_pair(x, g, h, width), [&](int64_t point, const torch::Tensor& y) {
            TORCH_CHECK(point >= 0 && point < static_cast<int64_t>(model.points.size()), kWho,
                        ": model '", model.name, "' reported an unknown point ", point);
            events.push_back({point, torch::Tensor()});
            stage_norms.push_back(stage_lie_norms(y, g, h, width));
            stage_actions.push_back(action_of(y));
            last = y;
          });
      if (!events.empty()) events.back().output = last;
      const std::vector<StageInfo> found = stages_of_events(model, events, output);
      if (found.size() > events.size()) {  // the output is a stage of its own
        stage_norms.push_back(stage_lie_norms(output, g, h, width));
        stage_actions.push_back(action_of(output));
      }
      if (stages.empty()) {
        stages = found;
        actions = stage_actions;
      }
      TORCH_CHECK(found.size() == stages.size(), kWho, ": model '", model.name, "' captured ",
                  found.size(), " stages for a batch, ", stages.size(), " for the first");
      if (values[gi].empty()) values[gi].resize(stages.size());
      for (size_t s = 0; s < stages.size(); ++s)
        values[gi][s].insert(values[gi][s].end(), stage_norms[s].begin(), stage_norms[s].end());
    }
    done += b;
    if (options.progress) options.progress(done, n);
  }
  Report report;
  report.samples = n;
  for (size_t s = 0; s < stages.size(); ++s)
    for (size_t gi = 0; gi < n_gen; ++gi)
      report.rows.push_back(mean_row(model.name, static_cast<int64_t>(s), stages[s].label,
                                     "lie_derivative", to_string(options.generators[gi]),
                                     actions[s], std::move(values[gi][s])));
  report.add_uncertainty(options.uncertainty);
  report.provenance[model.name] = {
      {"lie_rotation_step_degrees", std::to_string(options.rotation_step_degrees)},
      {"lie_translation_step_pixels", std::to_string(options.translation_step)},
      {"samples", std::to_string(n)}};
  return report;
}

Report lie_derivative_attribution(const torch::nn::Sequential& model, const std::string& name,
                                  const torch::Tensor& inputs,
                                  const LieDerivativeOptions& options) {
  constexpr const char* kWho = "eqnn::probe::lie_derivative_attribution";
  check_inputs(inputs, kWho);
  check_options(options, kWho);
  TORCH_CHECK(!model.is_empty() && model->size() > 0, kWho, ": model '", name, "' has no layers");
  c10::InferenceMode inference;
  const ProbedModel probed = model_of(model, name);
  const size_t layers = model->size();
  TORCH_CHECK(probed.points.size() == layers, kWho, ": model '", name, "' has ", layers,
              " layers but ", probed.points.size(), " probe points");
  const int64_t n = inputs.size(0), width = inputs.size(3);
  std::vector<torch::nn::AnyModule*> children;
  for (torch::nn::AnyModule& child : *model.ptr())
    children.push_back(&child);
  // f_{a+1} ... f_b applied to z (0-based children a..b-1)
  const auto forward = [&](torch::Tensor z, size_t a, size_t b) {
    for (size_t i = a; i < b; ++i)
      z = children[i]->forward(z);
    return z;
  };

  const size_t n_gen = options.generators.size();
  // per generator, layer: per-sample projections and norms; per generator: totals and residuals
  std::vector<std::vector<std::vector<double>>> projection(
      n_gen, std::vector<std::vector<double>>(layers)),
      magnitude(n_gen, std::vector<std::vector<double>>(layers));
  std::vector<std::vector<double>> total(n_gen), residual(n_gen);
  std::vector<std::string> actions(layers);
  int64_t done = 0;
  for (int64_t begin = 0; begin < n; begin += options.batch_size) {
    const int64_t b = std::min(options.batch_size, n - begin);
    const torch::Tensor x = inputs.narrow(0, begin, b);
    std::vector<torch::Tensor> z = {x};  // z_0 = x, z_i = f_i(z_{i-1})
    for (size_t i = 0; i < layers; ++i)
      z.push_back(children[i]->forward(z.back()));
    for (size_t i = 0; i < layers; ++i)
      actions[i] = action_of(z[i + 1]);
    for (size_t gi = 0; gi < n_gen; ++gi) {
      const Generator g = options.generators[gi];
      const double h = step_of(g, options);
      const auto rest = [&](size_t from) {
        return [&, from](const torch::Tensor& v) { return forward(v, from, layers); };
      };
      // the output's linearised Lie derivative J_f D x - D f(x)
      const torch::Tensor lf = (jvp(rest(0), x, direction(x, g, h, width), options.jvp_step) -
                                direction(z[layers], g, h, width))
                                   .reshape({b, -1});
      const torch::Tensor& lf_flat = lf;
      const torch::Tensor lf_norm = lf_flat.norm(2, 1);
      torch::Tensor sum = torch::zeros_like(lf_flat);
      for (size_t i = 0; i < layers; ++i) {
        // layer i's own Lie derivative l_i = J_{f_i} D z_{i-1} - D z_i (0-based: z[i] -> z[i + 1])
        const auto layer = [&, i](const torch::Tensor& v) { return children[i]->forward(v); };
        const torch::Tensor li = jvp(layer, z[i], direction(z[i], g, h, width), options.jvp_step) -
                                 direction(z[i + 1], g, h, width);
        // pushed through the rest of the network
        const torch::Tensor ci =
            (i + 1 == layers ? li : jvp(rest(i + 1), z[i + 1], li, options.jvp_step))
                .reshape({b, -1});
        sum += ci;
        const torch::Tensor proj =
            torch::where(lf_norm > 0, (ci * lf_flat).sum(1) / lf_norm.clamp_min(1e-300),
                         torch::zeros_like(lf_norm))
                .contiguous();
        const torch::Tensor mag = ci.norm(2, 1).contiguous();
        projection[gi][i].insert(projection[gi][i].end(), proj.data_ptr<double>(),
                                 proj.data_ptr<double>() + b);
        magnitude[gi][i].insert(magnitude[gi][i].end(), mag.data_ptr<double>(),
                                mag.data_ptr<double>() + b);
      }
      const torch::Tensor t = lf_norm.contiguous();
      const torch::Tensor r = (sum - lf_flat).norm(2, 1).contiguous();
      total[gi].insert(total[gi].end(), t.data_ptr<double>(), t.data_ptr<double>() + b);
      residual[gi].insert(residual[gi].end(), r.data_ptr<double>(), r.data_ptr<double>() + b);
    }
    done += b;
    if (options.progress) options.progress(done, n);
  }

  Report report;
  report.samples = n;
  for (size_t i = 0; i < layers; ++i) {
    const std::string stage = probed.points[i].label();
    for (size_t gi = 0; gi < n_gen; ++gi) {
      const std::string gen = to_string(options.generators[gi]);
      report.rows.push_back(mean_row(name, static_cast<int64_t>(i), stage, "lie_attribution", gen,
                                     actions[i], std::move(projection[gi][i])));
      report.rows.push_back(mean_row(name, static_cast<int64_t>(i), stage, "lie_attribution_norm",
                                     gen, actions[i], std::move(magnitude[gi][i])));
      if (i + 1 == layers) {
        double lee = 0, res = 0;
        for (double v : total[gi])
          lee += v;
        for (double v : residual[gi])
          res += v;
        report.rows.push_back(mean_row(name, static_cast<int64_t>(i), stage, "lie_derivative", gen,
                                       actions[i], std::move(total[gi])));
        ReportRow row;
        row.model = name;
        row.stage_index = static_cast<int64_t>(i);
        row.stage = stage;
        row.metric = "attribution_residual";
        row.deviation = gen;
        row.action = "mean |sum_i c_i - L f| / mean |L f|";
        row.value = lee > 0 ? res / lee : 0.0;
        report.rows.push_back(std::move(row));
      }
    }
  }
  report.add_uncertainty(options.uncertainty);
  report.provenance[name] = {
      {"lie_rotation_step_degrees", std::to_string(options.rotation_step_degrees)},
      {"lie_translation_step_pixels", std::to_string(options.translation_step)},
      {"lie_jvp_step", std::to_string(options.jvp_step)},
      {"samples", std::to_string(n)}};
  return report;
}

}  // namespace probe
}  // namespace eqnn
