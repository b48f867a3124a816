#include "eqnn/interpolation_error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/fft.h>
#include <torch/torch.h>

#include <cmath>
#include <iomanip>
#include <sstream>

#include "eqnn/checkpoint.h"
#include "eqnn/field.h"
#include "eqnn/nn/group_conv.h"
#include "eqnn/nn/lifting_conv.h"

namespace eqnn {

torch::Tensor band_limited_input(const std::vector<int64_t>& shape, double cutoff, uint64_t seed,
                                 torch::ScalarType dtype) {
  TORCH_CHECK(shape.size() == 4 && shape[2] == shape[3] && shape[2] >= 4,
              "eqnn::band_limited_input: expected a shape (B, C, H, H) with H >= 4, got ",
              at::IntArrayRef(shape));
  TORCH_CHECK(cutoff > 0 && cutoff <= 0.5, "eqnn::band_limited_input: the cutoff must be in ",
              "(0, 0.5] cycles per pixel, got ", cutoff);
  const int64_t size = shape[2];
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor noise = at::randn(shape, generator, torch::kDouble);
  // keep the frequencies within the cutoff (a disc in the 2-D spectrum)
  const torch::Tensor f = torch::fft::fftfreq(size, torch::kDouble);
  const torch::Tensor radius = torch::sqrt(f.view({size, 1}).square() + f.view({1, size}).square());
  const torch::Tensor spectrum = torch::fft::fft2(noise) * (radius <= cutoff);
  torch::Tensor x = torch::real(torch::fft::ifft2(spectrum));
  const double c = (size - 1) / 2.0, r = c - 1.0;
  const torch::Tensor u = torch::arange(size, torch::kDouble) - c;
  const torch::Tensor window =
      torch::clamp(1 - (u.view({size, 1}).square() + u.view({1, size}).square()) / (r * r), 0)
          .pow(3);
  x = x * window;
  return (x / x.square().mean().sqrt()).to(dtype);
}

namespace {

struct Errors {
  double rms = 0, max = 0;
};

Errors relative_errors(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& ref) {
  const torch::Tensor d = a - b;
  return {(d.norm() / ref.norm()).item<double>(), (d.abs().max() / ref.abs().max()).item<double>()};
}

/// Worst element off the grid, and the worst relative max on the grid, of f against its type.
InterpolationErrorRow measure(const Group& g,
                              const std::function<torch::Tensor(const torch::Tensor&)>& f,
                              const FieldType& in, const FieldType& out, const torch::Tensor& x) {
  InterpolationErrorRow row{g.name(), "", 0, x.size(-1), "", 0, 0, 0};
  torch::NoGradGuard no_grad;
  const torch::Tensor y = f(x);
  for (int64_t t = 1; t < g.order(); ++t) {
    const Errors e = relative_errors(f(in.act(x, t)), out.act(y, t), y);
    if (g.on_grid(t)) {
      row.grid_max = std::max(row.grid_max, e.max);
    } else if (e.rms > row.relative_rms) {
      row.relative_rms = e.rms;
      row.relative_max = e.max;
      row.element = g.element_name(t);
    }
  }
  return row;
}

}  // namespace

std::vector<InterpolationErrorRow> measure_interpolation_error(
    const InterpolationErrorOptions& options,
    const std::function<void(const InterpolationErrorRow&)>& on_row) {
  TORCH_CHECK(!options.groups.empty() && !options.sizes.empty(),
              "eqnn::measure_interpolation_error: expected at least one group and one size");
  std::vector<InterpolationErrorRow> rows;
  const auto add = [&](InterpolationErrorRow row) {
    if (on_row) on_row(row);
    rows.push_back(std::move(row));
  };
  for (const Group& g : options.groups) {
    for (const int64_t size : options.sizes) {
      torch::manual_seed(options.seed);
      const torch::Tensor x = band_limited_input({2, 1, size, size}, options.cutoff, options.seed);
      const FieldType image = FieldType::trivial(g, 1);
      // the plane action alone: L_g L_g x against L_{g^2} x
      {
        InterpolationErrorRow row{g.name(), "input", 0, size, "", 0, 0, 0};
        for (int64_t t = 1; t < g.order(); ++t) {
          if (g.on_grid(t)) continue;
          const Errors e =
              relative_errors(image.act(image.act(x, t), t), image.act(x, g.compose(t, t)), x);
          if (e.rms > row.relative_rms)
            row = {g.name(), "input", 0, size, g.element_name(t), e.rms, e.max, 0};
        }
        add(row);
      }
      for (const int64_t k : options.kernel_sizes) {
        LiftingConv2d lift(LiftingConv2dOptions(g, 1, options.fields, k)
                               .padding(k / 2)
                               .max_frequency(options.max_frequency));
        lift->to(torch::kDouble);
        InterpolationErrorRow row = measure(
            g, [&](const torch::Tensor& in) { return lift->forward(in); }, image, lift->out_type(),
            x);
        row.layer = "LiftingConv2d";
        row.kernel_size = k;
        add(row);
        torch::Tensor features;
        {
          torch::NoGradGuard no_grad;
          features = torch::relu(lift->forward(x));
        }
        GroupConv2d conv(GroupConv2dOptions(g, options.fields, options.fields, k)
                             .padding(k / 2)
                             .max_frequency(options.max_frequency));
        conv->to(torch::kDouble);
        row = measure(
            g, [&](const torch::Tensor& in) { return conv->forward(in); }, conv->in_type(),
            conv->out_type(), features);
        row.layer = "GroupConv2d";
        row.kernel_size = k;
        add(row);
      }
      if (options.network) {
        ModelSpec spec;
        spec.arch = "gcnn";
        spec.group = g.name();
        spec.input_size = size;
        torch::nn::Sequential net = build_model(spec);
        net->to(torch::kDouble);
        net->eval();
        const FieldType logits = FieldType::trivial(g, spec.classes);
        InterpolationErrorRow row = measure(
            g, [&](const torch::Tensor& in) { return net->forward(in); }, image, logits, x);
        row.layer = "network (gcnn)";
        add(row);
      }
    }
  }
  return rows;
}

std::string interpolation_error_table(const std::vector<InterpolationErrorRow>& rows) {
  std::ostringstream os;
  os << "| group | layer | k | size | worst element | relative L2 | relative max | on-grid max |\n"
     << "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
  os << std::scientific << std::setprecision(2);
  for (const auto& r : rows) {
    os << "| " << r.group << " | " << r.layer << " | "
       << (r.kernel_size ? std::to_string(r.kernel_size) : std::string("-")) << " | " << r.size
       << " | " << r.element << " | " << r.relative_rms << " | " << r.relative_max << " | ";
    if (r.layer == "input")
      os << "-";
    else
      os << r.grid_max;
    os << " |\n";
  }
  return os.str();
}

}  // namespace eqnn
