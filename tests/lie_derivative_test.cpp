// Lie derivatives against oracles computed by hand: a linear model (closed form under circular
// translations), the pixel average (rotation-invariant up to interpolation), a circular-padding
// CNN (0 under integer shifts at every stage); the layer attribution adds up to the total; the
// estimate costs two forwards per generator, and its fused rotation path equals its reference.
#include <catch2/catch.hpp>

#include <cmath>

#include "../src/probe/lie_norms.h"
#include "support.h"

using namespace eqnn::probe;

namespace {

/// The row of a report (support.h).
using eqnn_test::report_row;

/// Smooth bumps well inside the image (B, 1, n, n): bilinear rotation barely blurs them, and
/// nothing leaves the image.
torch::Tensor bumps(int64_t b, int64_t n, int64_t seed) {
  const torch::Tensor centre = eqnn_test::randn({b, 2, 1, 1}, torch::kDouble, seed) * 1.5;
  const torch::Tensor r = torch::arange(n, torch::kDouble) - (n - 1) / 2.0;
  const torch::Tensor rows = r.view({1, 1, n, 1}), cols = r.view({1, 1, 1, n});
  const torch::Tensor d2 =
      (rows - centre.narrow(1, 0, 1)).pow(2) + (cols - centre.narrow(1, 1, 1)).pow(2);
  return torch::exp(-d2 / 8.0);
}

}  // namespace

TEST_CASE("Lie derivatives: closed forms, invariances, attribution that adds up, cost",
          "[probe][lie]") {
  const int64_t n = 9;
  const torch::Tensor x = eqnn_test::randn({5, 1, n, n}, torch::kDouble, 3);

  // a linear model f(x) = <w, x> + c: under circular translations the central difference is
  // <w, (roll(x, 1) - roll(x, -1)) / 2> for any step (the bilinear shift is linear in the step)
  torch::manual_seed(1);
  torch::nn::Linear linear(n * n, 1);
  linear->to(torch::kDouble);
  torch::nn::Sequential affine(torch::nn::Flatten(), linear);
  const torch::Tensor w = linear->weight.detach().view({1, 1, n, n});
  for (const double step : {1.0, 0.5, 0.25}) {
    LieDerivativeOptions options;
    options.generators = {Generator::TranslationX, Generator::TranslationY};
    options.translation_step = step;
    options.batch_size = 2;  // several batches
    const Report r = lie_derivatives(model_of(affine, "affine"), x, options);
    for (const auto& [g, dim] : {std::make_pair(Generator::TranslationX, int64_t{3}),
                                 std::make_pair(Generator::TranslationY, int64_t{2})}) {
      INFO("step " << step << " " << to_string(g));
      const torch::Tensor expected =
          ((torch::roll(x, {1}, {dim}) - torch::roll(x, {-1}, {dim})) / 2 * w).sum({1, 2, 3}).abs();
      const ReportRow& out = report_row(r, "affine", 1, "lie_derivative", to_string(g));
      REQUIRE(out.per_sample.size() == 5);
      for (int64_t i = 0; i < 5; ++i)
        CHECK(out.per_sample[i] == Approx(expected[i].item<double>()).epsilon(1e-12));
      CHECK(out.value == Approx(expected.mean().item<double>()).epsilon(1e-12));
      CHECK(out.ci_low <= out.value);
      CHECK(out.action == "identity (features without a plane)");
    }
  }

  // the pixel average is rotation-invariant up to interpolation: on smooth bumps its LEE is a
  // small fraction of that of a one-pixel readout
  const torch::Tensor smooth = bumps(6, 15, 4);
  torch::nn::Sequential average(torch::nn::AdaptiveAvgPool2d(1), torch::nn::Flatten());
  torch::nn::Linear readout(15 * 15, 1);
  {
    torch::NoGradGuard no_grad;
    readout->weight.zero_();
    readout->weight[0][5 * 15 + 9] = 1.0;
    readout->bias.zero_();
  }
  readout->to(torch::kDouble);
  torch::nn::Sequential pixel(torch::nn::Flatten(), readout);
  LieDerivativeOptions rotation;
  rotation.generators = {Generator::Rotation};
  const double lee_average = report_row(lie_derivatives(model_of(average, "avg"), smooth, rotation),
                                        "avg", 1, "lie_derivative", "rotation")
                                 .value;
  const double lee_pixel = report_row(lie_derivatives(model_of(pixel, "pixel"), smooth, rotation),
                                      "pixel", 1, "lie_derivative", "rotation")
                               .value;
  CHECK(lee_pixel > 1e-2);
  CHECK(lee_average < 0.02 * lee_pixel);

  // the identity is equivariant to every flow: the closed-form generator of the rotation on
  // feature maps agrees with the finite difference of the bilinear rotation of the input
  torch::nn::Sequential identity{torch::nn::Identity()};
  const Report same = lie_derivatives(model_of(identity, "id"), smooth);
  for (const char* g : {"rotation", "translation_x", "translation_y"}) {
    INFO(g);
    CHECK(report_row(same, "id", 0, "lie_derivative", g).value < 1e-6);
  }
  // (a generator of the mirrored sense fails that by 7 orders of magnitude); a stage without a
  // plane keeps the whole derivative of the image
  CHECK(report_row(lie_derivatives(model_of(pixel, "pixel"), smooth, rotation), "pixel", 0,
                   "lie_derivative", "rotation")
            .value > 1e-2);

  // a CNN with circular padding, stride 1 and a global average: equivariant to integer circular
  // shifts at every stage, invariant at the output; not to rotations
  torch::manual_seed(2);
  const auto circular_conv = [](int64_t in, int64_t out) {
    return torch::nn::Conv2d(
        torch::nn::Conv2dOptions(in, out, 3).padding(1).padding_mode(torch::kCircular));
  };
  torch::nn::Sequential circular(circular_conv(1, 4), torch::nn::ReLU(), circular_conv(4, 4),
                                 torch::nn::ReLU(), torch::nn::AdaptiveAvgPool2d(1),
                                 torch::nn::Flatten(), torch::nn::Linear(4, 3));
  circular->to(torch::kDouble);
  circular->eval();
  const Report shifts = lie_derivatives(model_of(circular, "circular"), x);
  for (int64_t s = 0; s < 7; ++s) {
    INFO("stage " << s);
    CHECK(report_row(shifts, "circular", s, "lie_derivative", "translation_x").value < 1e-12);
    CHECK(report_row(shifts, "circular", s, "lie_derivative", "translation_y").value < 1e-12);
  }
  CHECK(report_row(shifts, "circular", 6, "lie_derivative", "rotation").value > 1e-4);
  CHECK(report_row(shifts, "circular", 0, "lie_derivative", "rotation").action ==
        "plane flow (channels fixed)");

  // layer attribution of a zero-padded CNN: the terms add up to the output's Lie derivative
  torch::manual_seed(3);
  auto cnn = eqnn::models::plain_cnn(eqnn::models::PlainCNNOptions(n).channels1(4).channels2(6));
  cnn->to(torch::kDouble);
  cnn->eval();
  const Report attribution = lie_derivative_attribution(cnn, "cnn", x);
  const Report direct = lie_derivatives(model_of(cnn, "cnn"), x);
  const int64_t last = static_cast<int64_t>(cnn->size()) - 1;
  for (const char* g : {"rotation", "translation_x", "translation_y"}) {
    INFO(g);
    const double lee = report_row(attribution, "cnn", last, "lie_derivative", g).value;
    // for the small rotation step the linearised derivative is the finite-difference one
    if (std::string(g) == "rotation")
      CHECK(lee == Approx(report_row(direct, "cnn", last, "lie_derivative", g).value).epsilon(0.1));
    CHECK(lee > 1e-4);
    CHECK(report_row(attribution, "cnn", last, "attribution_residual", g).value < 0.05);
    double sum = 0;
    for (int64_t s = 0; s <= last; ++s)
      sum += report_row(attribution, "cnn", s, "lie_attribution", g).value;
    CHECK(sum == Approx(lee).epsilon(0.05));
  }

  // no forward of x itself: every stage's f_i(x) is taken from the moved copies, which differs
  // from the definition with f_i(x) at second order in the step (here: < 1% on every stage)
  {
    LieDerivativeOptions rotation_only;
    rotation_only.generators = {Generator::Rotation};
    const double h = rotation_only.rotation_step_degrees * 3.14159265358979323846 / 180.0;
    const Report estimate = lie_derivatives(model_of(cnn, "cnn"), x, rotation_only);
    torch::NoGradGuard no_grad;
    const torch::Tensor step = h * eqnn::probe::detail::rotation_generator(x);
    torch::Tensor z = x, up = x + step, down = x - step;
    int64_t s = 0;
    for (auto& child : *cnn) {
      z = child.forward(z);
      up = child.forward(up);
      down = child.forward(down);
      const torch::Tensor own =
          z.dim() == 4 ? eqnn::probe::detail::rotation_generator(z) : torch::zeros_like(z);
      const double exact =
          ((up - down) / (2 * h) - own).reshape({5, -1}).norm(2, 1).mean().item<double>();
      INFO("stage " << s);
      CHECK(report_row(estimate, "cnn", s, "lie_derivative", "rotation").value ==
            Approx(exact).epsilon(1e-2));
      ++s;
    }
  }

  // the fused rotation path against its reference: float and double, both layouts, odd and
  // even planes, a single column
  for (const auto dtype : {torch::kFloat, torch::kDouble})
    for (const auto& shape : {std::vector<int64_t>{3, 4, 7, 7}, std::vector<int64_t>{2, 8, 6, 10},
                              std::vector<int64_t>{2, 3, 5, 1}}) {
      INFO(dtype << " " << torch::IntArrayRef(shape));
      const torch::Tensor y =
          eqnn_test::randn({2 * shape[0], shape[1], shape[2], shape[3]}, dtype, 7);
      for (const bool channels_last : {false, true}) {
        const torch::Tensor yy =
            channels_last ? y.contiguous(torch::MemoryFormat::ChannelsLast) : y;
        const torch::Tensor a = yy.narrow(0, 0, shape[0]), b = yy.narrow(0, shape[0], shape[0]);
        const torch::Tensor fast = eqnn::probe::detail::rotation_lie_norms(a, b, 0.01);
        const torch::Tensor slow = eqnn::probe::detail::rotation_lie_norms_reference(a, b, 0.01);
        CHECK(torch::allclose(fast, slow, dtype == torch::kFloat ? 1e-5 : 1e-12, 0));
      }
    }
  CHECK_THROWS_WITH(eqnn::probe::detail::rotation_lie_norms(x, x.narrow(0, 0, 2), 0.1),
                    Catch::Contains("of the same sizes"));

  // the cost: two forwards per generator
  int64_t forwarded = 0;
  ProbedModel counted = model_of(cnn, "cnn");
  const auto inner = counted.run;
  counted.run = [&](const torch::Tensor& input, const CaptureSink& sink) {
    forwarded += input.size(0);
    return inner(input, sink);
  };
  lie_derivatives(counted, x);
  CHECK(forwarded == 5 * 2 * 3);

  LieDerivativeOptions bad;
  bad.rotation_step_degrees = 0;
  CHECK_THROWS_WITH(lie_derivatives(model_of(cnn, "cnn"), x, bad),
                    Catch::Contains("rotation_step_degrees must be positive, got 0"));
  CHECK_THROWS_WITH(generator_from_name("scale"), Catch::Contains("unknown generator 'scale'"));
  CHECK(generator_from_name("Translation_X") == Generator::TranslationX);
}
