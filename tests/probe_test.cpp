// The G-EED probes against oracles that could fail: exact equivariance gives 0, group averaging
// gives output invariance 0, a plain CNN is clearly > 0, cosine ignores scale, softmax KL is at
// most log|G|, a hand-computed case, the continuous-rotation path at 90 degrees, TorchScript = C++.
#include <torch/script.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <tuple>

#include "support.h"

using eqnn::Group;
using namespace eqnn::probe;

namespace {

/// The row of a report (support.h).
const auto row = &eqnn_test::report_row;

torch::nn::Sequential trained_like_plain_cnn(int64_t size) {
  torch::manual_seed(3);
  auto net = eqnn::models::plain_cnn(eqnn::models::PlainCNNOptions(size).channels1(4).channels2(6));
  net->to(torch::kDouble);
  net->eval();
  return net;
}

}  // namespace

TEST_CASE("an exactly equivariant network has zero latent-equivariance G-EED at every stage",
          "[probe]") {
  for (const Group& g : {Group::c4(), Group::d4()}) {
    auto net = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(g, 9));
    net->to(torch::kDouble);
    net->eval();
    const auto model = model_of(net, "gcnn");
    const torch::Tensor x = eqnn_test::randn({6, 1, 9, 9}, torch::kDouble, 1);
    ProbeOptions options;
    options.deviations = {Deviation::Euclidean, Deviation::Cosine};
    const Report report = run_probe(model, x, group_transforms(g), options);
    REQUIRE(report.transforms.size() == static_cast<size_t>(g.order()));
    const int64_t stages = static_cast<int64_t>(net->size());
    REQUIRE(model.points.size() == net->size());
    for (int64_t s = 0; s < stages; ++s) {
      INFO(g.name() << " " << model.points[s].label());
      const ReportRow& eq = row(report, "gcnn", s, "equivariance", "euclidean");
      CHECK(eq.normalised < 1e-9);
      CHECK(row(report, "gcnn", s, "equivariance", "cosine").value < 1e-12);
      REQUIRE(eq.per_element.size() == static_cast<size_t>(g.order()));
      REQUIRE(eq.per_sample.size() == 6);
    }
    // the invariant head: invariance is ~0 at the last stages, clearly not at the first
    CHECK(row(report, "gcnn", stages - 1, "invariance", "euclidean").normalised < 1e-9);
    CHECK(row(report, "gcnn", 0, "invariance", "euclidean").normalised > 0.05);
    CHECK(row(report, "gcnn", stages - 1, "output_kl", "kl").value < 1e-12);
    CHECK(row(report, "gcnn", 0, "equivariance", "cosine").stage == "0 (eqnn::LiftingConv2d)");
  }
}

TEST_CASE("a plain CNN is clearly not equivariant, and a group-averaged one is output invariant",
          "[probe]") {
  const Group g = Group::d4();
  auto net = trained_like_plain_cnn(9);
  const torch::Tensor x = eqnn_test::randn({5, 1, 9, 9}, torch::kDouble, 2);
  const Report plain = run_probe(model_of(net, "cnn"), x, group_transforms(g));
  CHECK(row(plain, "cnn", 0, "equivariance", "euclidean").normalised > 0.05);
  const ReportRow& kl = row(plain, "cnn", net->size() - 1, "output_kl", "kl");
  CHECK(kl.value > 1e-6);
  // softmax KL G-EED is bounded by log|G| (and by log K), per sample too
  CHECK(kl.value <= std::log(8.0));
  for (double v : kl.per_sample)
    CHECK(v <= std::log(8.0) + 1e-12);

  // f(x) = mean_g f(g.x): exactly invariant by construction
  const SequenceStage stage(
      "group-averaged CNN",
      [&](const torch::Tensor& input) {
        torch::Tensor sum;
        for (int64_t t = 0; t < g.order(); ++t) {
          const torch::Tensor y = net->forward(g.act_on_trivial(input, t));
          sum = sum.defined() ? sum + y : y;
        }
        return sum / static_cast<double>(g.order());
      },
      LatentAction::invariant());
  const Report avg = run_probe(sequence_model("averaged", {stage}), x, group_transforms(g));
  CHECK(row(avg, "averaged", 0, "output_kl", "kl").value < 1e-12);
  CHECK(row(avg, "averaged", 0, "invariance", "euclidean").value < 1e-9);
}

TEST_CASE("cosine G-EED ignores the scale of activations, euclidean does not", "[probe]") {
  auto net = trained_like_plain_cnn(8);
  const int64_t relu = 3;  // conv, pool, bn, relu
  std::vector<SequenceStage> stages;
  for (int64_t i = 0; i <= relu; ++i) {
    torch::nn::AnyModule child = *(net->begin() + i);
    stages.push_back({std::to_string(i), [child](const torch::Tensor& x) mutable {
                        return child.forward<torch::Tensor>(x);
                      }});
  }
  stages.push_back({"x10", [](const torch::Tensor& y) { return y * 10.0; }});
  const ProbedModel model = sequence_model("cnn", stages);
  const Report r = run_probe(model, eqnn_test::randn({4, 1, 8, 8}, torch::kDouble, 3),
                             group_transforms(Group::c4()));
  for (const std::string metric : {"equivariance", "invariance"}) {
    const double before = row(r, "cnn", relu, metric, "cosine").value;
    CHECK(before > 1e-6);
    CHECK(row(r, "cnn", relu + 1, metric, "cosine").value == Approx(before).epsilon(1e-9));
    CHECK(row(r, "cnn", relu + 1, metric, "euclidean").value ==
          Approx(10 * row(r, "cnn", relu, metric, "euclidean").value).epsilon(1e-9));
    // the normalised variant is scale-free for both
    CHECK(row(r, "cnn", relu + 1, metric, "euclidean").normalised ==
          Approx(row(r, "cnn", relu, metric, "euclidean").normalised).epsilon(1e-9));
  }
}

TEST_CASE("a small case matches values computed by hand", "[probe]") {
  // f(x) = x on one 2x2 image, C2 = {e, R^2}; and a second stage flattening to logits.
  const ProbedModel model =
      sequence_model("identity", {{"identity", [](const torch::Tensor& x) { return x; }},
                                  {"flatten", [](const torch::Tensor& x) { return x.flatten(1); },
                                   LatentAction::invariant()}});
  const torch::Tensor x = torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kDouble).view({1, 1, 2, 2});
  ProbeOptions options;
  options.normalised = false;
  const Report r = run_probe(model, x, group_transforms(Group::c2()), options);
  // equivariance of the identity: 0
  CHECK(row(r, "identity", 0, "equivariance", "euclidean").value == 0);
  // centroid (x + R^2 x) / 2 = 2.5 everywhere; |x - c| = sqrt(1.5^2 + 0.5^2 + 0.5^2 + 1.5^2)
  CHECK(row(r, "identity", 0, "invariance", "euclidean").value ==
        Approx(std::sqrt(5.0)).epsilon(1e-12));
  // cos(x, c) = (1+2+3+4) * 2.5 / (sqrt(30) * 5)
  CHECK(row(r, "identity", 0, "invariance", "cosine").value ==
        Approx(1.0 - 5.0 / std::sqrt(30.0)).epsilon(1e-12));
  // output KL: logits (1,2,3,4) and (4,3,2,1)
  double p[2][4], q[4] = {0, 0, 0, 0};
  const double logits[2][4] = {{1, 2, 3, 4}, {4, 3, 2, 1}};
  for (int k = 0; k < 2; ++k) {
    double z = 0;
    for (int i = 0; i < 4; ++i)
      z += std::exp(logits[k][i]);
    for (int i = 0; i < 4; ++i) {
      p[k][i] = std::exp(logits[k][i]) / z;
      q[i] += p[k][i] / 2;
    }
  }
  double kl = 0;
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < 4; ++i)
      kl += p[k][i] * std::log(p[k][i] / q[i]) / 2;
  CHECK(row(r, "identity", 1, "output_kl", "kl").value == Approx(kl).epsilon(1e-12));
  CHECK(r.transforms == std::vector<std::string>{"e", "R^2"});
}

TEST_CASE("rotations by multiples of 90 degrees through the continuous path match the exact ones",
          "[probe][rotation]") {
  const Group c4 = Group::c4();
  for (const int64_t size : {7, 8}) {
    const torch::Tensor x = eqnn_test::randn({2, 3, size, size}, torch::kFloat, 4);
    for (int64_t k = 0; k < 4; ++k) {
      INFO("size " << size << " quarter turns " << k);
      CHECK(eqnn_test::max_abs_diff(rotate_bilinear(x, 90.0 * k), c4.act_on_trivial(x, k)) < 1e-5);
    }
  }
  auto net = trained_like_plain_cnn(9);
  const torch::Tensor x = eqnn_test::randn({3, 1, 9, 9}, torch::kDouble, 5);
  const Report exact = run_probe(model_of(net, "cnn"), x, group_transforms(c4));
  const Report continuous = run_probe(model_of(net, "cnn"), x, cyclic_rotation_transforms(4));
  REQUIRE(exact.rows.size() == continuous.rows.size());
  for (size_t i = 0; i < exact.rows.size(); ++i) {
    INFO(exact.rows[i].stage << " " << exact.rows[i].metric << " " << exact.rows[i].deviation);
    REQUIRE(std::isnan(exact.rows[i].value) == std::isnan(continuous.rows[i].value));
    if (!std::isnan(exact.rows[i].value))
      CHECK(continuous.rows[i].value == Approx(exact.rows[i].value).epsilon(1e-6).margin(1e-9));
  }
  // a 45-degree rotation has no action on regular p4 fields: equivariance is reported undefined
  auto gcnn = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(c4, 9));
  gcnn->to(torch::kDouble);
  const Report odd = run_probe(model_of(gcnn, "gcnn"), x, rotation_transforms({0, 45}));
  CHECK(std::isnan(row(odd, "gcnn", 0, "equivariance", "cosine").value));
  CHECK(row(odd, "gcnn", 0, "equivariance", "cosine").action.rfind("n/a (rot 45", 0) == 0);
  CHECK(row(odd, "gcnn", 0, "invariance", "cosine").value > 0);
}

TEST_CASE("chunking by the memory budget does not change the numbers", "[probe]") {
  auto net = trained_like_plain_cnn(8);
  const torch::Tensor x = eqnn_test::randn({7, 1, 8, 8}, torch::kDouble, 6);
  ProbeOptions big, tiny;
  tiny.memory_budget_bytes = 1;  // one sample per chunk
  int64_t calls = 0;
  tiny.progress = [&](int64_t done, int64_t total) {
    ++calls;
    CHECK(done <= total);
  };
  const Report a = run_probe(model_of(net, "cnn"), x, group_transforms(Group::d2()), big);
  const Report b = run_probe(model_of(net, "cnn"), x, group_transforms(Group::d2()), tiny);
  CHECK(calls == 7);
  REQUIRE(a.rows.size() == b.rows.size());
  for (size_t i = 0; i < a.rows.size(); ++i) {
    if (std::isnan(a.rows[i].value)) {  // not applicable in both
      CHECK(std::isnan(b.rows[i].value));
      continue;
    }
    CHECK(b.rows[i].value == Approx(a.rows[i].value).epsilon(1e-12));
    if (a.rows[i].metric != "output_kl")
      CHECK(b.rows[i].normalised == Approx(a.rows[i].normalised).epsilon(1e-12));
  }
}

TEST_CASE("a TorchScript model gives the same numbers as the same model built in C++",
          "[probe][jit]") {
  torch::manual_seed(7);
  const torch::Tensor w1 = torch::randn({4, 1, 3, 3}, torch::kDouble),
                      w2 = torch::randn({5, 4, 3, 3}, torch::kDouble);
  const torch::Tensor lw = torch::randn({3, 5}, torch::kDouble);
  auto conv_module = [](const std::string& name, const torch::Tensor& w) {
    torch::jit::Module m(name);
    m.register_parameter("weight", w, false);
    m.define(
        "def forward(self, x):\n  return torch.conv2d(x, self.weight, None, [1, 1], [1, 1])\n");
    return m;
  };
  torch::jit::Module relu("Relu");
  relu.define("def forward(self, x):\n  return torch.relu(x)\n");
  torch::jit::Module pool("Pool");
  pool.define("def forward(self, x):\n  return torch.mean(x, [2, 3])\n");
  torch::jit::Module linear("Linear");
  linear.register_parameter("weight", lw, false);
  linear.define("def forward(self, x):\n  return torch.matmul(x, self.weight.t())\n");
  torch::jit::Module top("Net");
  top.register_module("conv1", conv_module("Conv1", w1));
  top.register_module("relu", relu);
  top.register_module("conv2", conv_module("Conv2", w2));
  top.register_module("pool", pool);
  top.register_module("linear", linear);
  top.define(R"JIT(
def forward(self, x):
  return self.linear.forward(self.pool.forward(self.conv2.forward(self.relu.forward(self.conv1.forward(x)))))
)JIT");
  const torch::Tensor x = eqnn_test::randn({4, 1, 8, 8}, torch::kDouble, 8);
  const ProbedModel scripted = model_of(top, "net");
  REQUIRE(scripted.points.size() == 5);
  CHECK(scripted.points[2].label() == "conv2 (Conv2)");

  torch::nn::Sequential cpp(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1).bias(false)),
      torch::nn::ReLU(),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 5, 3).padding(1).bias(false)),
      torch::nn::AdaptiveAvgPool2d(1), torch::nn::Flatten(),
      torch::nn::Linear(torch::nn::LinearOptions(5, 3).bias(false)));
  cpp->to(torch::kDouble);
  {
    torch::NoGradGuard no_grad;
    cpp->ptr<torch::nn::Conv2dImpl>(0)->weight.copy_(w1);
    cpp->ptr<torch::nn::Conv2dImpl>(2)->weight.copy_(w2);
    cpp->ptr<torch::nn::LinearImpl>(5)->weight.copy_(lw);
  }
  const Report a = run_probe(scripted, x, group_transforms(Group::d4()));
  const Report b = run_probe(model_of(cpp, "net"), x, group_transforms(Group::d4()));
  // stage by stage: conv1, relu, conv2 correspond 1:1; the scripted pool+linear = cpp
  // pool,flatten,linear
  for (const std::string metric : {"equivariance", "invariance"}) {
    for (int64_t s = 0; s < 3; ++s)
      CHECK(row(a, "net", s, metric, "cosine").value ==
            Approx(row(b, "net", s, metric, "cosine").value).epsilon(1e-9));
  }
  CHECK(row(a, "net", 4, "output_kl", "kl").value ==
        Approx(row(b, "net", 5, "output_kl", "kl").value).epsilon(1e-9));

  // a forward that is not the sequence of its children: the submodule's output is captured
  // inside it, and the model's output is a stage of its own
  torch::jit::Module skip("Skip");
  skip.register_module("conv1", conv_module("C", w1));
  skip.define("def forward(self, x):\n  return self.conv1.forward(x) + 1.0\n");
  const Report s = run_probe(model_of(skip, "skip"), x, group_transforms(Group::d4()));
  CHECK(row(s, "skip", 0, "invariance", "cosine").stage == "conv1 (C)");
  CHECK(row(s, "skip", 0, "invariance", "cosine").value ==
        Approx(row(b, "net", 0, "invariance", "cosine").value).epsilon(1e-9));
  CHECK(row(s, "skip", 1, "invariance", "cosine").stage == "output");
}

TEST_CASE("reports render as text, CSV, JSON and HTML", "[probe][report]") {
  auto net = trained_like_plain_cnn(8);
  Report r = run_probe(model_of(net, "cnn"), eqnn_test::randn({3, 1, 8, 8}, torch::kDouble, 9),
                       group_transforms(Group::c2()));
  auto gcnn = eqnn::models::small_gcnn(eqnn::models::SmallGCNNOptions(Group::c2(), 8));
  gcnn->to(torch::kDouble);
  r.merge(run_probe(model_of(gcnn, "gcnn"), eqnn_test::randn({3, 1, 8, 8}, torch::kDouble, 9),
                    group_transforms(Group::c2())));
  const std::string text = r.text();
  CHECK(text.find("gcnn") != std::string::npos);
  CHECK(text.find("normalised") != std::string::npos);
  CHECK(text.find("95% CI") != std::string::npos);
  CHECK(text.find("provenance of gcnn: ") != std::string::npos);
  // provenance, then the confidence level as comment lines, the header, a line per row
  const std::string csv = r.csv();
  const std::string header =
      "model,stage_index,stage,action,metric,deviation,value,standard_error,ci_low,ci_high,"
      "normalised,worst_element,element e,element R^2\n";
  CHECK(csv.rfind("# cnn: date: ", 0) == 0);
  const size_t header_at = csv.find(header);
  REQUIRE(header_at != std::string::npos);
  CHECK(csv[header_at - 1] == '\n');  // the header starts a line
  CHECK(csv.substr(0, header_at)
            .find("# confidence intervals: 0.95, bootstrap (1000 "
                  "resamples, seed 24301)") != std::string::npos);
  size_t comments = 1;
  for (const auto& entry : r.provenance)
    comments += entry.second.size();
  CHECK(std::count(csv.begin(), csv.begin() + static_cast<long>(header_at), '\n') ==
        static_cast<long>(comments));
  CHECK(std::count(csv.begin(), csv.end(), '\n') ==
        static_cast<long>(comments + r.rows.size() + 1));
  // every row has its interval around its value, from its per-sample values
  for (const auto& row : r.rows) {
    INFO(row.model << " " << row.stage << " " << row.metric << " " << row.deviation);
    if (std::isnan(row.value)) continue;
    REQUIRE(row.per_sample.size() == 3);
    CHECK(row.standard_error >= 0);
    // (the slack is relative to the magnitude: values at rounding level can be negative)
    const auto slack = [](double v) { return 1e-12 * std::abs(v); };
    CHECK(row.ci_low <= row.value + slack(row.value));
    CHECK(row.ci_high >= row.value - slack(row.value));
    const auto [lo, hi] = std::minmax_element(row.per_sample.begin(), row.per_sample.end());
    CHECK(row.ci_low >= *lo - slack(*lo));
    CHECK(row.ci_high <= *hi + slack(*hi));
  }
  for (const char* model : {"cnn", "gcnn"})
    for (const char* key : {"eqnn_version", "libtorch_version", "date", "threads", "samples"})
      CHECK(r.provenance.at(model).count(key) == 1);
  CHECK(r.provenance.at("cnn").at("samples") == "3");
  CHECK_THROWS_WITH(r.merge(r), Catch::Contains("model 'cnn' is in both reports"));

  // probe.json reads back as the same report
  const std::string json = r.json();
  CHECK(json.find("\"per_sample\"") != std::string::npos);
  const Report back_json = Report::from_json(json);
  CHECK(back_json.transforms == r.transforms);
  CHECK(back_json.samples == r.samples);
  CHECK(back_json.interval_method == r.interval_method);
  CHECK(back_json.provenance == r.provenance);
  REQUIRE(back_json.rows.size() == r.rows.size());
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const ReportRow &x = r.rows[i], &y = back_json.rows[i];
    CHECK(x.model == y.model);
    CHECK(x.stage == y.stage);
    CHECK(x.action == y.action);
    CHECK(std::isnan(x.value) == std::isnan(y.value));
    if (std::isnan(x.value)) continue;
    CHECK(x.value == Approx(y.value).epsilon(1e-15));
    CHECK(x.ci_high == Approx(y.ci_high).epsilon(1e-15));
    CHECK(x.per_sample == y.per_sample);
    CHECK(x.worst_element() == y.worst_element());
  }
  CHECK(back_json.json() == json);
  CHECK_THROWS_WITH(Report::from_json("{"), Catch::Contains("Report::from_json: not JSON"));
  CHECK_THROWS_WITH(Report::from_json("[1]"),
                    Catch::Contains("expected an object with 'transforms' and 'rows'"));
  CHECK_THROWS_WITH(Report::from_json(R"({"transforms": [], "rows": [{"model": 1}]})"),
                    Catch::Contains("malformed report"));
  const std::string html = r.html("probe");
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("<polyline") != std::string::npos);
  CHECK(html.find("gcnn") != std::string::npos);
  // LineChart: log-scale G-EED with axis titles; a chart of the raw and one of the normalised
  // values for each (metric, deviation) that has normalised rows
  CHECK(html.find("G-EED (log scale)") != std::string::npos);
  // the two models name their stages differently: the axis counts stages, each point's tooltip
  // names its own model's stage
  CHECK(html.find("stage index (each point's tooltip: its model's stage)") != std::string::npos);
  CHECK(html.find("<title>gcnn, " + r.rows.back().stage) != std::string::npos);
  Report cnn_only = r;
  cnn_only.rows.erase(std::remove_if(cnn_only.rows.begin(), cnn_only.rows.end(),
                                     [](const ReportRow& row) { return row.model != "cnn"; }),
                      cnn_only.rows.end());
  CHECK(cnn_only.html("one").find("stage (in the order of the forward pass)") != std::string::npos);
  size_t charts = 0, normalised_charts = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1))
    ++charts;
  for (size_t at = html.find("normalised G-EED (log scale)"); at != std::string::npos;
       at = html.find("normalised G-EED (log scale)", at + 1))
    ++normalised_charts;
  std::set<std::pair<std::string, std::string>> kinds, normalised_kinds;
  for (const auto& row : r.rows) {
    kinds.insert({row.metric, row.deviation});
    if (!std::isnan(row.normalised)) normalised_kinds.insert({row.metric, row.deviation});
  }
  CHECK(charts == kinds.size() + normalised_kinds.size());
  CHECK(normalised_charts == normalised_kinds.size());
  // the output KL is a bar chart (a bar per model); a heat map per (model, metric, deviation)
  // with per-element values; error bars; the provenance table
  CHECK(html.find("output invariance (KL)") != std::string::npos);
  CHECK(html.find("<rect x=") != std::string::npos);
  // the G-EED charts first, then the Lie derivatives, then the one-value metrics as bars
  Report ordered = r;
  ReportRow lie = r.rows.back(), residual = r.rows.back();
  lie.metric = "lie_derivative";
  lie.deviation = "rotation";
  residual.metric = "attribution_residual";
  residual.deviation = "rotation";
  ordered.rows.insert(ordered.rows.begin(), {residual, lie});
  const std::string page = ordered.html("ordered");
  const size_t equivariance_chart = page.find(">equivariance (cosine)<"),
               lie_chart = page.find(">lie_derivative (rotation)<"),
               kl_chart = page.find(">output invariance (KL)<"),
               residual_chart = page.find(">attribution_residual (rotation)<");
  CHECK(equivariance_chart < lie_chart);
  CHECK(lie_chart < kl_chart);
  CHECK(kl_chart < residual_chart);
  CHECK(residual_chart != std::string::npos);
  CHECK(page.find("<rect x=", residual_chart) != std::string::npos);  // a bar chart
  size_t heat_maps = 0;
  for (size_t at = html.find("<table class='heat'>"); at != std::string::npos;
       at = html.find("<table class='heat'>", at + 1))
    ++heat_maps;
  std::set<std::tuple<std::string, std::string, std::string>> heat_kinds;
  for (const auto& row : r.rows)
    if (!row.per_element.empty()) heat_kinds.insert({row.model, row.metric, row.deviation});
  CHECK(heat_maps == heat_kinds.size());
  CHECK(html.find("<path d='M") != std::string::npos);
  CHECK(html.find("<summary>Provenance</summary>") != std::string::npos);
  CHECK(html.find("95% confidence intervals over samples") != std::string::npos);
  const std::string path = "eqnn_report_test.html";
  Report::write_file(path, html);
  std::ifstream in(path);
  std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(back == html);
  std::remove(path.c_str());
}

TEST_CASE("the fused deviation passes match ATen in float32 and float64", "[probe]") {
  // Feature sizes that are not multiples of the 256-entry blocks, channels_last and NCHW inputs.
  for (const auto dtype : eqnn_test::float_types()) {
    INFO(c10::toString(dtype));
    const double tol = dtype == torch::kFloat ? 1e-5 : 1e-12;
    const torch::Tensor f = eqnn_test::randn({7, 5, 9, 11}, dtype, 21);
    const torch::Tensor f64 = f.to(torch::kDouble).reshape({7, -1});
    // mean over ordered pairs i != j, computed directly
    double euclid = 0, cosine = 0;
    for (int64_t i = 0; i < 7; ++i)
      for (int64_t j = 0; j < 7; ++j)
        if (i != j) {
          euclid += (f64[i] - f64[j]).norm().item<double>();
          cosine += 1 - (f64[i] * f64[j]).sum().item<double>() /
                            (f64[i].norm() * f64[j].norm()).item<double>();
        }
    const auto scales = eqnn::probe::mean_pairwise_deviations(
        f.contiguous(at::MemoryFormat::ChannelsLast),
        {eqnn::probe::Deviation::Euclidean, eqnn::probe::Deviation::Cosine});
    CHECK(scales[0].pairs == 42);
    CHECK(scales[0].mean == Approx(euclid / 42).epsilon(tol));
    CHECK(scales[1].mean == Approx(cosine / 42).epsilon(tol));

    // KL over ordered pairs of probability rows (one entry exactly 0: 0 log 0 = 0), against
    // deviation() pair by pair
    torch::Tensor probs = torch::softmax(eqnn_test::randn({6, 10}, torch::kDouble, 22), 1);
    probs[2][3] = 0;
    probs = probs.to(dtype);
    double kl = 0;
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 6; ++j)
        if (i != j)
          kl += eqnn::probe::deviation(probs.narrow(0, i, 1), probs.narrow(0, j, 1),
                                       eqnn::probe::Deviation::KL)
                    .item<double>();
    const auto kl_scale =
        eqnn::probe::mean_pairwise_deviations(probs, {eqnn::probe::Deviation::KL})[0];
    CHECK(kl_scale.pairs == 30);
    CHECK(kl_scale.mean == Approx(kl / 30).epsilon(1e-12));

    // each of K copies against their centroid
    std::vector<torch::Tensor> copies;
    for (uint64_t k = 0; k < 3; ++k)
      copies.push_back(eqnn_test::randn({4, 6, 7, 13}, dtype, 30 + k));
    const auto fused = eqnn::probe::centroid_deviations(
        copies, {eqnn::probe::Deviation::Euclidean, eqnn::probe::Deviation::Cosine});
    torch::Tensor centroid = torch::zeros({4, 6 * 7 * 13}, torch::kDouble);
    for (const auto& c : copies)
      centroid += c.to(torch::kDouble).reshape({4, -1}) / 3.0;
    for (size_t k = 0; k < 3; ++k) {
      const torch::Tensor y = copies[k].to(torch::kDouble).reshape({4, -1});
      const torch::Tensor eu = (y - centroid).norm(2, 1);
      const torch::Tensor co = 1 - (y * centroid).sum(1) / (y.norm(2, 1) * centroid.norm(2, 1));
      CHECK(eqnn_test::max_abs_diff(fused[k][0], eu) < tol * eu.abs().max().item<double>());
      CHECK(eqnn_test::max_abs_diff(fused[k][1], co) < tol);
    }
  }
}

namespace {

/// A four-stage model with non-equivariant maps (a convolution plus a fixed random map) whose
/// stages carry the library's actions: regular `group` fields, plain maps (plane action),
/// invariant 1x1 features, and those as non-contiguous (K n, F) features. With exact == false the
/// same actions are custom ones (no exact form: the targets are materialised); `action_calls`
/// counts how often those run.
ProbedModel non_equivariant_model(const Group& group, int64_t channels, int64_t size,
                                  torch::ScalarType dtype, bool exact, int64_t* action_calls) {
  const torch::Tensor weight = eqnn_test::randn({channels, 1, 3, 3}, dtype, 40);
  const torch::Tensor offset = eqnn_test::randn({1, channels, size, size}, dtype, 41);
  const auto maybe_custom = [exact, action_calls](const LatentAction& action) -> LatentAction {
    if (exact) return action;
    return LatentAction::custom(
        action.name(), [action, action_calls](const torch::Tensor& y, const Transform& tr) {
          ++*action_calls;
          return action.apply(y, tr);
        });
  };
  const eqnn::FieldType type = eqnn::FieldType::regular(group);
  return sequence_model(
      "m", {{"regular",
             [=](const torch::Tensor& x) { return torch::conv2d(x, weight, {}, 1, 1) + offset; },
             maybe_custom(LatentAction::fields(type))},
            {"plane", [](const torch::Tensor& x) { return torch::relu(x) * 2; },
             maybe_custom(LatentAction::plane())},
            {"invariant",
             [](const torch::Tensor& x) {
               return x.mean({2, 3}, true);
             },
             maybe_custom(LatentAction::invariant())},
            // (K n, F) features in a non-contiguous layout
            {"flat", [](const torch::Tensor& x) { return x.flatten(1).t().contiguous().t() * 3; },
             maybe_custom(LatentAction::invariant())}});
}

}  // namespace

TEST_CASE("the fused metric pass gives the numbers of materialised targets", "[probe]") {
  // Channel counts with and without whole 8-channel groups (vectorised and row-buffer paths),
  // odd and even planes, both memory formats, exact and non-exact transforms (45 degrees: the
  // regular stage's equivariance is undefined, invariance still fused).
  struct Case {
    Group group;
    int64_t channels;
  };
  for (const auto dtype : eqnn_test::float_types())
    for (const Case& c :
         {Case{Group::d4(), 16}, Case{Group::c4(), 12}, Case{Group::d2(), 8}, Case{Group::d1(), 6}})
      for (const int64_t size : {9, 10})
        for (const bool channels_last : {true, false}) {
          INFO(c10::toString(dtype)
               << " " << c.group.name() << " " << c.channels << " channels, " << size << "x" << size
               << (channels_last ? " channels_last" : " NCHW"));
          const double eps = dtype == torch::kFloat ? 1e-5 : 1e-11;
          const torch::Tensor x = eqnn_test::randn({5, 1, size, size}, dtype, 42);
          ProbeOptions options;
          options.channels_last = channels_last;
          options.memory_budget_bytes = 20000;  // several chunks
          for (const bool rotations : {false, true}) {
            const std::vector<Transform> transforms =
                rotations ? rotation_transforms({90, 45, 180}) : group_transforms(c.group);
            int64_t fused_calls = 0, generic_calls = 0;
            const Report fused = run_probe(
                non_equivariant_model(c.group, c.channels, size, dtype, true, &fused_calls), x,
                transforms, options);
            const Report generic = run_probe(
                non_equivariant_model(c.group, c.channels, size, dtype, false, &generic_calls), x,
                transforms, options);
            CHECK(generic_calls > 0);
            CHECK(fused_calls == 0);  // library actions never take the custom path
            REQUIRE(fused.rows.size() == generic.rows.size());
            for (size_t i = 0; i < fused.rows.size(); ++i) {
              const ReportRow &a = fused.rows[i], &b = generic.rows[i];
              INFO(a.stage << " " << a.metric << " " << a.deviation);
              REQUIRE(std::isnan(a.value) == std::isnan(b.value));
              if (std::isnan(a.value)) continue;
              CHECK(a.value > 0);  // nothing here is equivariant or invariant
              CHECK(a.value == Approx(b.value).epsilon(eps));
              if (a.metric != "output_kl")  // not normalised (NaN)
                CHECK(a.normalised == Approx(b.normalised).epsilon(eps));
              REQUIRE(a.per_sample.size() == b.per_sample.size());
              for (size_t k = 0; k < a.per_element.size(); ++k)
                CHECK(a.per_element[k] == Approx(b.per_element[k]).epsilon(eps).margin(1e-12));
              for (size_t k = 0; k < a.per_sample.size(); ++k)
                CHECK(a.per_sample[k] == Approx(b.per_sample[k]).epsilon(eps));
            }
          }
        }
  // A latent KL deviation is not a function of the pair sums: it must not come from the fused pass.
  int64_t calls = 0;
  const torch::Tensor x = eqnn_test::randn({3, 1, 8, 8}, torch::kDouble, 43);
  ProbeOptions kl;
  kl.deviations = {Deviation::Euclidean, Deviation::KL};
  const Report fused =
      run_probe(non_equivariant_model(Group::d4(), 16, 8, torch::kDouble, true, &calls), x,
                group_transforms(Group::d4()), kl);
  const Report generic =
      run_probe(non_equivariant_model(Group::d4(), 16, 8, torch::kDouble, false, &calls), x,
                group_transforms(Group::d4()), kl);
  REQUIRE(fused.rows.size() == generic.rows.size());
  for (size_t i = 0; i < fused.rows.size(); ++i) {
    INFO(fused.rows[i].stage << " " << fused.rows[i].metric << " " << fused.rows[i].deviation);
    CHECK(fused.rows[i].value == Approx(generic.rows[i].value).epsilon(1e-12));
  }
}

TEST_CASE("probe numbers do not depend on the thread count", "[probe]") {
  // The stage sums split small chunks into a fixed number of parts, never by the thread count.
  const int threads = at::get_num_threads();
  int64_t calls = 0;
  const ProbedModel model =
      non_equivariant_model(Group::d4(), 16, 10, torch::kDouble, true, &calls);
  const torch::Tensor x = eqnn_test::randn({3, 1, 10, 10}, torch::kDouble, 44);
  at::set_num_threads(1);
  const Report one = run_probe(model, x, group_transforms(Group::d4()));
  at::set_num_threads(std::max(2, threads));
  const Report many = run_probe(model, x, group_transforms(Group::d4()));
  at::set_num_threads(threads);
  REQUIRE(one.rows.size() == many.rows.size());
  for (size_t i = 0; i < one.rows.size(); ++i) {
    INFO(one.rows[i].stage << " " << one.rows[i].metric << " " << one.rows[i].deviation);
    CHECK(one.rows[i].value == many.rows[i].value);
    CHECK(one.rows[i].per_sample == many.rows[i].per_sample);
  }
}
