// eqnn probe: the G-EED metrics of a model, layer by layer, printed as a table and written as CSV,
// JSON and HTML.
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "eqnn/eqnn.h"
#include "progress.h"

namespace eqnn_cli {
namespace {

using namespace eqnn;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

struct ProbeArgs {
  std::string model;    // TorchScript file or eqnn checkpoint
  std::string builtin;  // "gcnn" or "cnn": a freshly initialised example model
  std::string images, labels;
  int64_t samples = 256;
  int64_t size = 28;  // random inputs / builtin models
  std::string group = "d4";
  std::vector<double> rotations;
  int64_t cn = 0, so2 = 0;
  std::string shifts;
  uint64_t seed = 0;
  std::string metrics = "equivariance,invariance,output";
  std::string deviations = "cosine,euclidean";
  std::string stages;
  int64_t budget_mb = 16;
  std::string out;
};

probe::StagedModel load_model(const ProbeArgs& a, const torch::Tensor& example) {
  TORCH_CHECK(a.model.empty() != a.builtin.empty(), "eqnn probe: give exactly one of --model FILE ",
              "or --builtin gcnn|cnn");
  if (!a.builtin.empty()) {
    ModelSpec spec;
    spec.arch = a.builtin;
    spec.group = a.group;
    spec.input_size = example.size(-1);
    spec.in_channels = example.size(1);
    torch::manual_seed(a.seed);
    auto net = build_model(spec);
    net->eval();
    return probe::stages_of(net, spec.describe());
  }
  TORCH_CHECK(std::filesystem::exists(a.model), "eqnn probe: model file '", a.model,
              "' does not exist");
  // An eqnn checkpoint first; anything else must be TorchScript.
  try {
    Checkpoint ckpt = load_checkpoint(a.model);
    ckpt.model->eval();
    return probe::stages_of(ckpt.model, std::filesystem::path(a.model).filename().string());
  } catch (const c10::Error& e) {
    const std::string why = e.what_without_backtrace();
    if (why.find("not an eqnn checkpoint") == std::string::npos &&
        why.find("not a readable checkpoint") == std::string::npos)
      throw;
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(a.model);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "eqnn probe: '", a.model,
                "' is neither an eqnn checkpoint nor a TorchScript ",
                "module: ", e.what_without_backtrace());
  }
  module.eval();
  return probe::stages_of(module, std::filesystem::path(a.model).filename().string(), example);
}

std::vector<probe::Transform> transforms_for(const ProbeArgs& a) {
  if (!a.rotations.empty()) return probe::rotation_transforms(a.rotations);
  if (a.cn > 0) return probe::cyclic_rotation_transforms(a.cn);
  if (a.so2 > 0) return probe::sampled_rotation_transforms(a.so2, a.seed);
  if (!a.shifts.empty()) {
    std::vector<std::pair<int64_t, int64_t>> shifts;
    for (const std::string& pair : split(a.shifts, ';')) {
      const auto parts = split(pair, ',');
      TORCH_CHECK(parts.size() == 2, "eqnn probe: --shifts expects 'rows,cols;rows,cols', got '",
                  a.shifts, "'");
      shifts.push_back({std::stoll(parts[0]), std::stoll(parts[1])});
    }
    return probe::translation_transforms(shifts);
  }
  return probe::group_transforms(Group::from_name(a.group));
}

}  // namespace

Command add_probe_command(CLI::App& app) {
  using namespace eqnn;
  auto a = std::make_shared<ProbeArgs>();
  CLI::App* sub = app.add_subcommand(
      "probe", "Measure invariance and equivariance (G-EED) of a model layer by layer");
  sub->add_option("-m,--model", a->model,
                  "eqnn checkpoint or TorchScript file (top level: a sequence of submodules)");
  sub->add_option("--builtin", a->builtin,
                  "A freshly initialised example model instead: gcnn or cnn")
      ->check(CLI::IsMember({"gcnn", "cnn"}));
  sub->add_option("--images", a->images,
                  "IDX images (N, H, W), plain or .gz; random inputs if absent");
  sub->add_option("--labels", a->labels, "IDX labels (checked against the images)");
  sub->add_option("-n,--samples", a->samples, "Number of samples")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--size", a->size, "Input size for random inputs")
      ->capture_default_str()
      ->check(CLI::Range(2, 4096));
  sub->add_option("-g,--group", a->group,
                  "Transforms: every element of c1 c2 c4 d1 d2 d4 (p4, p4m)")
      ->capture_default_str();
  sub->add_option("--rotations", a->rotations, "Transforms: rotations by these angles (degrees)")
      ->delimiter(',');
  sub->add_option("--cn", a->cn, "Transforms: C_N through bilinear rotation");
  sub->add_option("--so2", a->so2, "Transforms: this many random angles (with --seed)");
  sub->add_option("--shifts", a->shifts, "Transforms: cyclic shifts 'rows,cols;rows,cols'");
  sub->add_option("--seed", a->seed, "Seed (data, SO(2) angles, builtin weights)")
      ->capture_default_str();
  sub->add_option("--metrics", a->metrics, "equivariance,invariance,output")->capture_default_str();
  sub->add_option("--deviations", a->deviations, "cosine,euclidean")->capture_default_str();
  sub->add_option("--stages", a->stages, "Stage indices to report, e.g. 0,3,8 (default: all)");
  sub->add_option("--budget-mb", a->budget_mb, "Memory budget per chunk (MiB)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("-o,--out", a->out, "Directory for probe.csv, probe.json and probe.html");

  return [a] {
    torch::manual_seed(a->seed);
    torch::Tensor inputs;
    if (a->images.empty()) {
      inputs = torch::rand({a->samples, 1, a->size, a->size});
      std::cout << "data: " << a->samples << " random " << a->size << "x" << a->size << " images\n";
    } else {
      inputs = data::load_idx_images(a->images, a->labels, a->samples).images;
      std::cout << "data: " << inputs.size(0) << " images from " << a->images << "\n";
    }
    const probe::StagedModel model = load_model(*a, inputs.narrow(0, 0, 1));
    probe::ProbeOptions options;
    options.metrics.clear();
    for (const auto& m : split(a->metrics, ','))
      options.metrics.push_back(probe::metric_from_name(m));
    options.deviations.clear();
    for (const auto& d : split(a->deviations, ','))
      options.deviations.push_back(probe::deviation_from_name(d));
    for (const auto& s : split(a->stages, ','))
      options.stages.push_back(std::stoll(s));
    options.memory_budget_bytes = a->budget_mb << 20;
    const auto transforms = transforms_for(*a);
    std::cout << "model: " << model.name << ", " << model.stages.size()
              << " stages; transforms: " << transforms.size() << "\n";
    Progress progress("probing", inputs.size(0));
    options.progress = [&](int64_t done, int64_t) { progress.update(done); };
    const probe::Report report = probe::run_probe(model, inputs, transforms, options);
    progress.finish();
    std::cout << report.text();
    if (!a->out.empty()) {
      std::filesystem::create_directories(a->out);
      probe::Report::write_file(a->out + "/probe.csv", report.csv());
      probe::Report::write_file(a->out + "/probe.json", report.json());
      probe::Report::write_file(a->out + "/probe.html", report.html("eqnn probe: " + model.name));
      std::cout << "wrote " << a->out << "/probe.{csv,json,html}\n";
    }
    return 0;
  };
}

}  // namespace eqnn_cli
