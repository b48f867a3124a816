// Probing real networks: TorchScript models of any structure (a ResNet trained in PyTorch,
// scripted and traced, against forward hooks computed in that script), C++ module trees with
// custom blocks (Tap, report_output, eqnn layers inside), declared actions, the equivariant
// ResNet, the reference backend against the fast paths, and the documented errors.
#include <torch/script.h>
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "eqnn/testing/catch2.h"
#include "support.h"

using Catch::Contains;
using eqnn::Group;
using namespace eqnn::probe;

namespace {

const std::string kAssets = std::string(EQNN_TEST_DATA_DIR) + "/torchscript/";

torch::Tensor asset_inputs() {
  return eqnn::data::load_idx_images(kAssets + "inputs-idx3-ubyte", "").images;
}

const ReportRow* find_stage_row(const Report& r, const std::string& stage,
                                const std::string& metric, const std::string& deviation) {
  for (const ReportRow& row : r.rows)
    if (row.stage == stage && row.metric == metric && row.deviation == deviation) return &row;
  return nullptr;
}

const ReportRow& row_at(const Report& r, const std::string& stage, const std::string& metric,
                        const std::string& deviation) {
  const ReportRow* row = find_stage_row(r, stage, metric, deviation);
  if (row == nullptr) FAIL("no row for stage '" << stage << "' " << metric << " " << deviation);
  return *row;
}

/// Holds every row of `a` to the same row of `b` (value, normalised, per element) to a relative
/// eps, with an absolute margin of `margin` times the stage's scale (rounding of the features
/// themselves, which dominates values near 0).
void require_same_rows(const Report& a, const Report& b, double eps, double margin = 1e-12) {
  REQUIRE(a.rows.size() == b.rows.size());
  for (size_t i = 0; i < a.rows.size(); ++i) {
    const ReportRow &x = a.rows[i], &y = b.rows[i];
    INFO(x.stage << " " << x.metric << " " << x.deviation << " (" << x.action << ")");
    REQUIRE(x.stage == y.stage);
    REQUIRE(std::isnan(x.value) == std::isnan(y.value));
    if (std::isnan(x.value)) continue;
    const double abs = margin * (std::isnan(y.scale) ? 1.0 : y.scale);
    CHECK(x.value == Approx(y.value).epsilon(eps).margin(abs));
    CHECK(std::isnan(x.normalised) == std::isnan(y.normalised));
    if (!std::isnan(x.normalised)) {
      CHECK(x.scale == Approx(y.scale).epsilon(eps));
      CHECK(x.normalised == Approx(y.normalised).epsilon(eps).margin(margin));
      CHECK(x.scale_standard_error == Approx(y.scale_standard_error).epsilon(eps).margin(abs));
    }
    REQUIRE(x.per_element.size() == y.per_element.size());
    for (size_t k = 0; k < x.per_element.size(); ++k)
      CHECK(x.per_element[k] == Approx(y.per_element[k]).epsilon(eps).margin(abs));
    // the same per-sample values resampled by the same stream: the same uncertainty (the
    // interval's ends are differences of close per-sample values: a few times eps)
    REQUIRE(std::isnan(x.standard_error) == std::isnan(y.standard_error));
    if (!std::isnan(x.standard_error)) {
      CHECK(x.standard_error == Approx(y.standard_error).epsilon(10 * eps).margin(abs));
      CHECK(x.ci_low == Approx(y.ci_low).epsilon(10 * eps).margin(abs));
      CHECK(x.ci_high == Approx(y.ci_high).epsilon(10 * eps).margin(abs));
    }
  }
}

const std::vector<std::string> kProbed = {"stem",
                                          "stem.0",
                                          "layer1",
                                          "layer1.0",
                                          "layer1.0.conv1",
                                          "layer1.1",
                                          "layer2.0",
                                          "layer2.0.conv2",
                                          "layer2.0.downsample",
                                          "layer2.1",
                                          "layer3",
                                          "layer3.0.downsample.1",
                                          "pool",
                                          "fc"};

}  // namespace

TEST_CASE("a ResNet trained in PyTorch, scripted and traced, matches forward hooks in float64",
          "[probe][jit]") {
  std::ifstream in(kAssets + "resnet_expected.json");
  REQUIRE(in.good());
  const nlohmann::json expected = nlohmann::json::parse(in);
  const torch::Tensor x = asset_inputs();
  REQUIRE(x.size(0) == expected["samples"].get<int64_t>());
  for (const std::string file : {"resnet_scripted.pt", "resnet_traced.pt"}) {
    INFO(file);
    torch::jit::Module module = load_torchscript(kAssets + file);
    module.eval();
    CaptureOptions capture;
    capture.modules = kProbed;
    capture.depth = 0;
    const ProbedModel model = model_of(module, "resnet", capture);
    ProbeOptions options;
    options.memory_budget_bytes = 200000;  // several chunks
    const Report report = run_probe(model, x, group_transforms(Group::d4()), options);
    // the stages in the order of the forward, whatever the registration order; the output is
    // fc's own output
    std::vector<std::string> labels;
    for (const ReportRow& r : report.rows)
      if (labels.empty() || labels.back() != r.stage) labels.push_back(r.stage);
    CHECK(labels.front() == "stem.0 (Conv2d)");
    CHECK(labels.back() == "fc (Linear)");
    CHECK(std::find(labels.begin(), labels.end(), "layer2.0.downsample (Sequential)") !=
          labels.end());
    CHECK(labels.size() == kProbed.size());
    for (const auto& [name, values] : expected["stages"].items()) {
      if (name == "output") {
        CHECK(row_at(report, "fc (Linear)", "output_kl", "kl").value ==
              Approx(values["output_kl"].get<double>()).epsilon(2e-4));
        continue;
      }
      std::string label;
      for (const std::string& l : labels)
        if (l.rfind(name + " (", 0) == 0) label = l;
      REQUIRE(!label.empty());
      INFO(label);
      for (const std::string metric : {"equivariance", "invariance"})
        for (const std::string deviation : {"cosine", "euclidean"}) {
          const ReportRow& r = row_at(report, label, metric, deviation);
          const std::string key = metric + "_" + deviation;
          if (!values.contains(key)) {  // no plane: the plane action is not applicable
            CHECK(std::isnan(r.value));
            CHECK(r.action.rfind("n/a", 0) == 0);
            continue;
          }
          CHECK(r.value == Approx(values[key].get<double>()).epsilon(2e-4));
          CHECK(r.value > 1e-3);  // a plain ResNet is clearly not invariant or equivariant
        }
    }
  }
}

TEST_CASE("declared actions, repeated calls, tuples and files that are not TorchScript",
          "[probe][jit]") {
  const torch::Tensor x = asset_inputs().narrow(0, 0, 6);
  // An exactly p4-equivariant network made of plain convolutions: large under the assumed plane
  // action, zero under the declared regular action.
  torch::jit::Module p4 = load_torchscript(kAssets + "p4_plain_convs.pt");
  p4.eval();
  const auto transforms = group_transforms(Group::c4());
  const Report plane = run_probe(model_of(p4, "p4"), x, transforms);
  CaptureOptions declared;
  for (const std::string name : {"0", "1", "2", "3"})
    declared.actions.emplace(name, parse_latent_action("regular:p4"));
  const Report exact = run_probe(model_of(p4, "p4", declared), x, transforms);
  for (const std::string stage : {"0 (Conv2d)", "1 (ReLU)", "2 (Conv2d)", "3 (ReLU)"}) {
    INFO(stage);
    CHECK(row_at(plane, stage, "equivariance", "euclidean").normalised > 0.1);
    CHECK(row_at(exact, stage, "equivariance", "euclidean").normalised < 1e-5);
    CHECK(row_at(exact, stage, "equivariance", "euclidean").action ==
          "any number of regular C4 fields");
  }
  CHECK_THROWS_WITH(parse_latent_action("regular:q3"), Contains("q3"));
  CHECK_THROWS_WITH(parse_latent_action("rotated"), Contains("unknown action 'rotated'"));
  CaptureOptions typo;
  typo.actions.emplace("9", LatentAction::invariant());
  CHECK_THROWS_WITH(model_of(p4, "p4", typo), Contains("declared for '9'"));
  CaptureOptions missing;
  missing.modules = {"layer9"};
  CHECK_THROWS_WITH(model_of(p4, "p4", missing), Contains("has no submodule 'layer9'"));

  // A submodule called twice per forward: one stage per call.
  torch::jit::Module twice = load_torchscript(kAssets + "twice.pt");
  const Report t = run_probe(model_of(twice, "twice"), x, transforms);
  CHECK(find_stage_row(t, "conv#1 (Conv2d)", "invariance", "cosine") != nullptr);
  CHECK(find_stage_row(t, "conv#2 (Conv2d)", "invariance", "cosine") != nullptr);
  CHECK(row_at(t, "conv#1 (Conv2d)", "invariance", "cosine").value !=
        row_at(t, "conv#2 (Conv2d)", "invariance", "cosine").value);

  // A submodule that returns a tuple is refused by name.
  torch::jit::Module tuple = load_torchscript(kAssets + "tuple.pt");
  CHECK_THROWS_WITH(
      model_of(tuple, "tuple"),
      Contains("submodule 'pair' (Pair) of model 'tuple' returns") && Contains("not one tensor"));
  CaptureOptions only_conv;
  only_conv.modules = {"conv"};
  only_conv.depth = 0;
  CHECK(run_probe(model_of(tuple, "tuple", only_conv), x, transforms).rows.size() > 0);

  // Files that are not TorchScript: one line saying what they are and how to save a model.
  CHECK_THROWS_WITH(load_torchscript(kAssets + "eager_model.pt"),
                    Contains("eager torch.save(model) pickle of torch.nn.modules.container."
                             "Sequential") &&
                        Contains("torch.jit.script(model).save(path)"));
  CHECK_THROWS_WITH(load_torchscript(kAssets + "state_dict.pt"),
                    Contains("is a state_dict") && Contains("torch.jit.trace"));
  CHECK_THROWS_WITH(load_torchscript(kAssets + "legacy.pt"), Contains("legacy (non-zip)"));
  CHECK_THROWS_WITH(load_torchscript(kAssets + "make_models.py"), Contains("not a zip archive"));
  CHECK_THROWS_WITH(load_torchscript(kAssets + "absent.pt"), Contains("does not exist"));
}

namespace {

/// A user's own residual block of plain LibTorch modules: probed inside through a Tap and one
/// report_output line, and at its own output through report_output.
struct PlainBlockImpl : torch::nn::Module {
  explicit PlainBlockImpl(int64_t channels)
      : conv1(register_module(
            "conv1",
            torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).padding(1)))),
        conv2(register_module(
            "conv2",
            torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).padding(1)))),
        tap(register_module("tap", Tap())) {}
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor h = tap(torch::relu(conv1(x)));
    const torch::Tensor y = eqnn::report_output(*conv2, conv2(h));
    return eqnn::report_output(*this, torch::relu(y + x));
  }
  torch::nn::Conv2d conv1, conv2;
  Tap tap;
};
TORCH_MODULE(PlainBlock);

struct PlainNetImpl : torch::nn::Module {
  PlainNetImpl()
      : stem(register_module("stem",
                             torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)))),
        blocks(register_module("blocks", torch::nn::ModuleList(PlainBlock(4), PlainBlock(4)))),
        head(register_module("head", torch::nn::Linear(4, 3))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h = stem(x);
    for (const auto& block : *blocks)
      h = block->as<PlainBlockImpl>()->forward(h);
    return head(h.mean({2, 3}));
  }
  torch::nn::Conv2d stem;
  torch::nn::ModuleList blocks;
  torch::nn::Linear head;
};
TORCH_MODULE(PlainNet);

}  // namespace

TEST_CASE("C++ module trees are probed inside custom modules", "[probe]") {
  torch::manual_seed(5);
  PlainNet net;
  net->to(torch::kDouble);
  const torch::Tensor x = eqnn_test::randn({4, 1, 8, 8}, torch::kDouble, 50);
  CaptureOptions capture;
  capture.depth = 3;
  const ProbedModel model = model_of(net, "plain", capture);
  const Report r = run_probe(model, x, group_transforms(Group::c4()));
  std::vector<std::string> labels;
  for (const ReportRow& row : r.rows)
    if (labels.empty() || labels.back() != row.stage) labels.push_back(row.stage);
  // the stem is a plain Conv2d called by the root's forward: not observable (and not required);
  // inside the blocks: the Tap, conv2 (report_output), the block; then the model output
  const std::vector<std::string> want = {"blocks.0.tap (eqnn::probe::Tap)",
                                         "blocks.0.conv2 (torch::nn::Conv2d)",
                                         "blocks.0 (PlainBlock)",
                                         "blocks.1.tap (eqnn::probe::Tap)",
                                         "blocks.1.conv2 (torch::nn::Conv2d)",
                                         "blocks.1 (PlainBlock)",
                                         "output"};
  CHECK(labels == want);
  CHECK(std::isnan(row_at(r, "output", "equivariance", "cosine").value));  // logits: n/a
  CHECK(row_at(r, "output", "output_kl", "kl").value > 1e-6);
  // a module asked for by name that cannot be observed is an error that says what to do
  CaptureOptions stem;
  stem.modules = {"stem"};
  CHECK_THROWS_WITH(run_probe(model_of(net, "plain", stem), x, group_transforms(Group::c4())),
                    Contains("stem (torch::nn::Conv2d) of model 'plain' produced no output") &&
                        Contains("eqnn::probe::Tap"));
  // the reference backend sees the same stages and numbers
  require_same_rows(r, run_probe_reference(model, x, group_transforms(Group::c4())), 1e-9);
}

TEST_CASE("the equivariant ResNet is equivariant at every block and inside it", "[probe][models]") {
  for (const Group& g : {Group::c4(), Group::d4()})
    for (const auto dtype : eqnn_test::float_types())
      for (const int64_t size : {9, 10}) {
        INFO(g.name() << " " << c10::toString(dtype) << " " << size << "x" << size);
        torch::manual_seed(11);
        auto net = eqnn::models::small_resnet(eqnn::models::SmallResNetOptions(g, size));
        net->to(dtype);
        net->eval();
        const torch::Tensor x = eqnn_test::randn({3, 1, size, size}, dtype, 51);
        // the exact check at every top-level child (every block) and for the whole network
        for (const auto& stage : eqnn::check_equivariance_per_stage(net, x)) {
          INFO(stage.name);
          CHECK(stage.report.passed());
        }
        REQUIRE_EQUIVARIANT(net, x);
        // the probe inside the blocks: every captured output is equivariant, the output invariant
        CaptureOptions capture;
        capture.depth = 3;
        const Report r = run_probe(model_of(net, "resnet", capture), x, group_transforms(g));
        const double tol = dtype == torch::kFloat ? 1e-5 : 1e-10;
        int64_t inner = 0;
        for (const ReportRow& row : r.rows) {
          if (row.stage.find("3.conv2") != std::string::npos) ++inner;
          if (row.metric == "equivariance" && row.deviation == "euclidean") {
            INFO(row.stage);
            CHECK(row.normalised < tol);
          }
          if (row.metric == "output_kl") CHECK(row.value < tol);
        }
        CHECK(inner > 0);  // the block's own layers were captured
      }
  // a strided block is exact on odd sizes, and its export computes the same function
  for (const auto dtype : eqnn_test::float_types()) {
    eqnn::models::ResidualBlock block(
        eqnn::models::ResidualBlockOptions(Group::d4(), 2, 3).stride(2));
    block->to(dtype);
    block->eval();
    const torch::Tensor x = eqnn_test::randn({2, 16, 9, 9}, dtype, 52);
    auto impl = block.ptr();
    const auto report =
        eqnn::check_equivariance([impl](const torch::Tensor& in) { return impl->forward(in); },
                                 block->in_type(), block->out_type(), x, 0, /*single_layer=*/false);
    CHECK(report.passed());
    torch::NoGradGuard no_grad;
    const torch::Tensor y = block->forward(x);
    CHECK(eqnn_test::max_abs_diff(block->export_module()->forward(x), y) <
          (dtype == torch::kFloat ? 1e-4 : 1e-10));
  }
}

TEST_CASE("the fast probe paths match the reference backend on every kind of stage", "[probe]") {
  // Stages with regular, trivial, plane, declared (custom), invariant and flattened outputs; odd
  // and even sizes; both memory formats; float32 and float64; several chunks.
  for (const auto dtype : eqnn_test::float_types())
    for (const int64_t size : {9, 10})
      for (const bool channels_last : {true, false}) {
        INFO(c10::toString(dtype) << " " << size << (channels_last ? " channels_last" : " NCHW"));
        const Group g = Group::d4();
        torch::manual_seed(13);
        auto net = eqnn::models::small_gcnn(
            eqnn::models::SmallGCNNOptions(g, size).fields1(2).fields2(2).fields3(3));
        net->to(dtype);
        net->eval();
        // non-equivariant maps too: a plain conv (plane action), a flatten (not applicable),
        // and a custom action
        const torch::Tensor w = eqnn_test::randn({3, 1, 3, 3}, dtype, 53);
        const std::vector<SequenceStage> stages = {
            {"trivial", [w](const torch::Tensor& x) { return torch::conv2d(x, w, {}, 1, 1); },
             LatentAction::fields(eqnn::FieldType::trivial(g))},
            {"plane", [](const torch::Tensor& x) { return torch::relu(x - 0.1); }},
            {"custom", [](const torch::Tensor& x) { return x * 2; },
             LatentAction::custom("flip rows",
                                  [](const torch::Tensor& y, const Transform&) {
                                    return std::optional<torch::Tensor>(y.flip({2}));
                                  })},
            {"flat", [](const torch::Tensor& x) { return x.flatten(1); }},
            {"declared invariant", [](const torch::Tensor& x) { return x.narrow(1, 0, 2) * 1.5; },
             LatentAction::invariant()}};
        const torch::Tensor x = eqnn_test::randn({7, 1, size, size}, dtype, 54);
        ProbeOptions options;
        options.channels_last = channels_last;
        options.memory_budget_bytes = 30000;
        options.normalisation_samples = 5;
        const double eps = dtype == torch::kFloat ? 2e-5 : 1e-10;
        const double margin = dtype == torch::kFloat ? 1e-6 : 1e-12;
        for (const auto& transforms : {group_transforms(g), rotation_transforms({90, 45}),
                                       translation_transforms({{1, 2}})}) {
          for (const ProbedModel& model :
               {model_of(net, "gcnn"), sequence_model("plain", stages)}) {
            INFO(model.name << " " << transforms.back().name);
            require_same_rows(run_probe(model, x, transforms, options),
                              run_probe_reference(model, x, transforms, options), eps, margin);
          }
        }
      }
}

TEST_CASE("non-finite features are reported as an error, never as invariance", "[probe]") {
  const torch::Tensor x = eqnn_test::randn({3, 1, 6, 6}, torch::kDouble, 55);
  const ProbedModel model = sequence_model(
      "nan", {{"logits",
               [](const torch::Tensor& y) {
                 return y.flatten(1).narrow(1, 0, 4) * std::numeric_limits<double>::quiet_NaN();
               },
               LatentAction::invariant()}});
  CHECK_THROWS_WITH(run_probe(model, x, group_transforms(Group::c4())),
                    Contains("is not finite") && Contains("NaN"));
}

TEST_CASE("concurrent writers of one report file leave a complete file", "[probe][report]") {
  // Several processes (as several `eqnn probe --out DIR` runs) rename their own temporaries over
  // the same file: whichever wins, the file is one writer's whole contents.
  const std::string dir = "eqnn_concurrent_reports";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/probe.csv";
  constexpr int kWriters = 6, kRounds = 20;
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int status = 0;
      try {
        const std::string contents(100000 + w, static_cast<char>('a' + w));
        for (int r = 0; r < kRounds; ++r)
          Report::write_file(path, contents);
      } catch (...) {
        status = 1;
      }
      _exit(status);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  std::ifstream in(path, std::ios::binary);
  const std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(back.size() >= 100000);
  const int w = static_cast<int>(back.size()) - 100000;
  CHECK(back == std::string(100000 + w, static_cast<char>('a' + w)));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    files += entry.is_regular_file() ? 1 : 0;
  CHECK(files == 1);  // no temporary left behind
  std::filesystem::remove_all(dir);
}

namespace {

/// The PyTorch ResNet of tests/data/torchscript/make_models.py as C++ modules; each probed module
/// reports its output with one line (plain LibTorch modules have no hooks).
struct BasicBlockImpl : torch::nn::Module {
  BasicBlockImpl(int64_t cin, int64_t cout, int64_t stride) {
    namespace nn = torch::nn;
    conv1 = register_module(
        "conv1", nn::Conv2d(nn::Conv2dOptions(cin, cout, 3).stride(stride).padding(1).bias(false)));
    bn1 = register_module("bn1", nn::BatchNorm2d(cout));
    conv2 = register_module("conv2",
                            nn::Conv2d(nn::Conv2dOptions(cout, cout, 3).padding(1).bias(false)));
    bn2 = register_module("bn2", nn::BatchNorm2d(cout));
    if (stride != 1 || cin != cout)
      downsample = register_module(
          "downsample",
          nn::Sequential(nn::Conv2d(nn::Conv2dOptions(cin, cout, 1).stride(stride).bias(false)),
                         nn::BatchNorm2d(cout)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = torch::relu(bn1(eqnn::report_output(*conv1, conv1(x))));
    out = bn2(eqnn::report_output(*conv2, conv2(out)));
    const torch::Tensor identity =
        downsample ? eqnn::report_output(*downsample, downsample->forward(x)) : x;
    return eqnn::report_output(*this, torch::relu(out + identity));
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

struct ResNetImpl : torch::nn::Module {
  ResNetImpl() {
    namespace nn = torch::nn;
    fc = register_module("fc", nn::Linear(32, 10));
    stem = register_module(
        "stem", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 8, 3).padding(1).bias(false)),
                               nn::BatchNorm2d(8), nn::ReLU()));
    layer1 = register_module("layer1", nn::Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 8, 1)));
    layer2 = register_module("layer2", nn::Sequential(BasicBlock(8, 16, 2), BasicBlock(16, 16, 1)));
    layer3 = register_module("layer3", nn::Sequential(BasicBlock(16, 32, 2)));
    pool = register_module("pool", nn::AdaptiveAvgPool2d(1));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = eqnn::report_output(*stem, stem->forward(x));
    x = eqnn::report_output(*layer1, layer1->forward(x));
    x = eqnn::report_output(*layer2, layer2->forward(x));
    x = eqnn::report_output(*layer3, layer3->forward(x));
    x = torch::flatten(eqnn::report_output(*pool, pool(x)), 1);
    return eqnn::report_output(*fc, fc(x));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::Sequential stem{nullptr}, layer1{nullptr}, layer2{nullptr}, layer3{nullptr};
  torch::nn::AdaptiveAvgPool2d pool{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace

TEST_CASE("the same ResNet built as C++ modules gives the TorchScript model's numbers",
          "[probe][jit]") {
  torch::jit::Module scripted = load_torchscript(kAssets + "resnet_scripted.pt");
  scripted.eval();
  ResNet cpp;
  {
    torch::NoGradGuard no_grad;
    std::map<std::string, torch::Tensor> weights;
    for (const auto& p : scripted.named_parameters())
      weights[p.name] = p.value;
    for (const auto& b : scripted.named_buffers())
      weights[b.name] = b.value;
    for (auto& p : cpp->named_parameters())
      p.value().copy_(weights.at(p.key()));
    for (auto& b : cpp->named_buffers())
      b.value().copy_(weights.at(b.key()));
  }
  cpp->eval();
  const std::vector<std::string> shared = {
      "stem",     "layer1",   "layer1.0",       "layer1.0.conv1",
      "layer1.1", "layer2.0", "layer2.0.conv2", "layer2.0.downsample",
      "layer2.1", "layer3",   "pool",           "fc"};
  CaptureOptions capture;
  capture.modules = shared;
  capture.depth = 0;
  const torch::Tensor x = asset_inputs();
  const auto transforms = group_transforms(Group::d4());
  const Report a = run_probe(model_of(scripted, "resnet", capture), x, transforms);
  const Report b = run_probe(model_of(cpp, "resnet", capture), x, transforms);
  // the same stages in the same order; the types are spelled as each side spells them
  REQUIRE(a.rows.size() == b.rows.size());
  for (size_t i = 0; i < a.rows.size(); ++i) {
    const ReportRow &p = a.rows[i], &q = b.rows[i];
    INFO(p.stage << " / " << q.stage << " " << p.metric << " " << p.deviation);
    CHECK(p.stage.substr(0, p.stage.find(' ')) == q.stage.substr(0, q.stage.find(' ')));
    REQUIRE(std::isnan(p.value) == std::isnan(q.value));
    if (!std::isnan(p.value)) CHECK(p.value == Approx(q.value).epsilon(1e-5));
  }
}
