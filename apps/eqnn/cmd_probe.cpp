// eqnn probe: the G-EED metrics of a model, layer by layer, printed as a table and written as CSV,
// JSON and HTML.
#include <torch/script.h>
#include <torch/torch.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "arg_checks.h"
#include "cli.h"
#include "commands.h"
#include "device_arg.h"
#include "distributed_args.h"
#include "eqnn/eqnn.h"
#include "eqnn/probe/sharded.h"
#include "list_args.h"
#include "progress.h"
#include "report_output.h"

namespace eqnn_cli {
namespace {

using namespace eqnn;

struct ProbeArgs {
  std::vector<std::string> models;    // TorchScript files or eqnn checkpoints
  std::vector<std::string> builtins;  // "gcnn" or "cnn": freshly initialised example models
  std::string images, labels;
  int64_t samples = 256;
  int64_t size = 28;  // random inputs / builtin models
  std::string group;  // default: the model's own group (d4 for models without one)
  std::vector<double> rotations;
  int64_t cn = 0, so2 = 0;
  std::string shifts;
  uint64_t seed = 0;
  std::string metrics = "equivariance,invariance,output";
  std::string deviations = "cosine,euclidean";
  std::string stages;
  std::string modules;
  int64_t depth = -1;  // -1: 1, or 0 when --modules is given
  std::string actions;
  int64_t normalisation_samples = 32;
  int64_t budget_mb = 16;
  std::string out;
  std::string format = "text";  // of the table on stdout: text, csv or json
  DistributedArgs distributed;  // sharded probing
  std::string device = "cpu";
  std::string precision = "float32";
};

probe::CaptureOptions capture_options(const ProbeArgs& a) {
  probe::CaptureOptions options;
  options.modules = split_list(a.modules, ',');
  options.depth = a.depth >= 0 ? a.depth : (options.modules.empty() ? 1 : 0);
  options.actions = parse_action_list(a.actions);
  return options;
}

struct LoadedModel {
  probe::ProbedModel model;
  std::optional<Group> group;                 // the model's own group, where it has one
  std::string file;                           // the model file ("" for builtin models)
  torch::nn::Sequential sequential{nullptr};  // eqnn models: for the Lie layer attribution
};

LoadedModel load_builtin(const ProbeArgs& a, const std::string& arch, int64_t input_size,
                         int64_t in_channels) {
  const probe::CaptureOptions capture = capture_options(a);
  {
    ModelSpec spec;
    spec.arch = arch;
    spec.group = a.group.empty() ? "d4" : a.group;
    spec.input_size = input_size;
    spec.in_channels = in_channels;
    torch::manual_seed(a.seed);
    auto net = build_model(spec);
    net->to(parse_device(a.device, "eqnn probe"));
    net->eval();
    return {probe::model_of(net, spec.describe(), capture),
            spec.arch == "gcnn" ? std::optional<Group>(Group::from_name(spec.group)) : std::nullopt,
            "", net};
  }
}

/// An eqnn checkpoint or a TorchScript file, named `name` in the report.
LoadedModel load_file_model(const ProbeArgs& a, const std::string& path, const std::string& name) {
  const probe::CaptureOptions capture = capture_options(a);
  TORCH_CHECK(std::filesystem::exists(path), "eqnn probe: model file '", path, "' does not exist");
  // An eqnn checkpoint first; anything else must be TorchScript.
  try {
    Checkpoint ckpt = load_checkpoint(path);
    ckpt.model->to(parse_device(a.device, "eqnn probe"));
    ckpt.model->eval();
    return {probe::model_of(ckpt.model, name, capture),
            ckpt.spec.arch == "gcnn" ? std::optional<Group>(Group::from_name(ckpt.spec.group))
                                     : std::nullopt,
            path, ckpt.model};
  } catch (const c10::Error& e) {
    const std::string why = e.what_without_backtrace();
    if (why.find("not an eqnn checkpoint") == std::string::npos &&
        why.find("not a readable checkpoint") == std::string::npos)
      throw;
  }
  torch::jit::Module module;
  try {
    module = probe::load_torchscript(path);
  } catch (const c10::Error& e) {
    std::string why = e.what_without_backtrace();
    const std::string prefix = "eqnn::probe: ";
    if (why.rfind(prefix, 0) == 0) why = why.substr(prefix.size());
    TORCH_CHECK(false, "eqnn probe: not an eqnn checkpoint, and ", why);
  }
  module.to(parse_device(a.device, "eqnn probe"));
  module.eval();
  return {probe::model_of(module, name, capture), std::nullopt, path, nullptr};
}

/// Appends the rows and provenance entries of `from` (the same model measured otherwise).
void append_rows(probe::Report& into, const probe::Report& from) {
  into.rows.insert(into.rows.end(), from.rows.begin(), from.rows.end());
  into.samples = std::max(into.samples, from.samples);
  if (into.interval_method.empty()) {
    into.interval_method = from.interval_method;
    into.confidence_level = from.confidence_level;
  }
  for (const auto& [model, entries] : from.provenance)
    into.provenance[model].insert(entries.begin(), entries.end());
}

/// Report names of the model files: the file name, or the path where two share a file name.
std::vector<std::string> model_names(const std::vector<std::string>& paths) {
  std::vector<std::string> names;
  for (const std::string& path : paths) {
    const std::string file = std::filesystem::path(path).filename().string();
    const bool shared = std::count_if(paths.begin(), paths.end(), [&](const std::string& p) {
                          return std::filesystem::path(p).filename().string() == file;
                        }) > 1;
    names.push_back(shared ? path : file);
  }
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (names[i] == names[j])
        throw UsageError("eqnn probe: the model '" + names[i] + "' is given twice");
  return names;
}

/// The transforms' default when none is chosen: the models' common own group (D4 for models
/// without one).
Group common_group(const std::vector<LoadedModel>& loaded) {
  const Group first = loaded.front().group.value_or(Group::d4());
  for (const LoadedModel& m : loaded) {
    const Group own = m.group.value_or(Group::d4());
    if (own.name() != first.name())
      throw UsageError("eqnn probe: the models have different groups (" + first.name() + " and " +
                       own.name() +
                       "): choose the transforms with --group, --rotations, --cn, --so2 or "
                       "--shifts");
  }
  return first;
}

/// Whether an option chooses the transforms (else they are the models' own group).
bool transforms_chosen(const ProbeArgs& a) {
  return !a.rotations.empty() || a.cn > 0 || a.so2 > 0 || !a.shifts.empty() || !a.group.empty();
}

std::vector<probe::Transform> transforms_for(const ProbeArgs& a, const std::optional<Group>& own) {
  const int given =
      !a.rotations.empty() + (a.cn > 0) + (a.so2 > 0) + !a.shifts.empty() + !a.group.empty();
  TORCH_CHECK(given <= 1, "eqnn probe: give at most one of --group, --rotations, --cn, --so2 and ",
              "--shifts (they choose the transforms)");
  if (!a.rotations.empty()) {
    for (double d : a.rotations)
      TORCH_CHECK(std::isfinite(d), "eqnn probe: --rotations expects finite angles, got ", d);
    return probe::rotation_transforms(a.rotations);
  }
  if (a.cn > 0) return probe::cyclic_rotation_transforms(a.cn);
  if (a.so2 > 0) return probe::sampled_rotation_transforms(a.so2, a.seed);
  if (!a.shifts.empty()) return probe::translation_transforms(parse_shift_list(a.shifts));
  if (!a.group.empty()) return probe::group_transforms(Group::from_name(a.group));
  return probe::group_transforms(own ? *own : Group::d4());
}

/// Fails before any work if `dir` cannot be created or written.
void check_output_directory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  TORCH_CHECK(!ec && std::filesystem::is_directory(dir), "eqnn probe: cannot create the output ",
              "directory '", dir, "'", ec ? ": " + ec.message() : "");
  const std::string probe_file = dir + "/.eqnn-write-test-" + std::to_string(::getpid());
  std::ofstream test(probe_file);
  const bool ok = test.good() && (test << "x").good();
  test.close();
  std::filesystem::remove(probe_file, ec);
  TORCH_CHECK(ok, "eqnn probe: the output directory '", dir, "' is not writable");
}

}  // namespace

Command add_probe_command(CLI::App& app) {
  using namespace eqnn;
  auto a = std::make_shared<ProbeArgs>();
  CLI::App* sub = app.add_subcommand(
      "probe", "Measure invariance and equivariance (G-EED) of a model layer by layer");
  sub->add_option("-m,--model", a->models,
                  "eqnn checkpoint or TorchScript file (scripted or traced, any structure); "
                  "repeat for several models on one report");
  sub->add_option("--builtin", a->builtins,
                  "Freshly initialised example models: gcnn and/or cnn (repeatable)")
      ->check(CLI::IsMember({"gcnn", "cnn"}));
  sub->add_option("--images", a->images,
                  "IDX images (N, H, W), plain or .gz; random inputs if absent");
  sub->add_option("--labels", a->labels, "IDX labels (checked against the images)");
  sub->add_option("-n,--samples,--probe-samples", a->samples,
                  "Number of samples (--probe-samples: an alias, as in eqnn demo)")
      ->capture_default_str()
      ->check(integer_in(1));
  sub->add_option("--size", a->size, "Input size for random inputs")
      ->capture_default_str()
      ->check(CLI::Range(2, 4096));
  sub->add_option("-g,--group", a->group,
                  "Transforms: every element of c1 c2 c4 d1 d2 d4 (p4, p4m); default: the "
                  "model's own group (d4 for models without one)");
  sub->add_option("--rotations", a->rotations, "Transforms: rotations by these angles (degrees)")
      ->delimiter(',');
  sub->add_option("--cn", a->cn, "Transforms: C_N through bilinear rotation");
  sub->add_option("--so2", a->so2, "Transforms: this many random angles (with --seed)");
  sub->add_option("--shifts", a->shifts, "Transforms: cyclic shifts 'rows,cols;rows,cols'");
  sub->add_option("--seed", a->seed, "Seed (data, SO(2) angles, builtin weights)")
      ->capture_default_str();
  sub->add_option("--metrics", a->metrics,
                  "equivariance,invariance,output; opt-in: fitted (learned latent actions: "
                  "channel permutations and linear maps fitted on half the samples, measured on "
                  "the other half), lie (Lie derivatives under rotation and translations, and "
                  "their layer attribution for eqnn models)")
      ->capture_default_str();
  sub->add_option("--deviations", a->deviations, "cosine,euclidean")->capture_default_str();
  sub->add_option("--stages", a->stages, "Stage indices to report, e.g. 0,3,8 (default: all)");
  sub->add_option(
      "--modules", a->modules,
      "Submodules to probe by qualified name, e.g. layer1,layer2.0,fc (and the output)");
  sub->add_option("--depth", a->depth,
                  "Also every submodule down to this depth (default 1: the top-level children; 0 "
                  "with --modules)")
      ->check(CLI::Range(int64_t{0}, int64_t{64}));
  sub->add_option(
      "--action", a->actions,
      "Declared actions on stage outputs: 'name=ACTION,...' with ACTION one of plane, "
      "invariant, none, regular:GROUP, trivial:GROUP (name 'output': the model output)");
  sub->add_option("--normalisation-samples", a->normalisation_samples,
                  "Samples whose pairs give the normalisation scale (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  sub->add_option("--budget-mb", a->budget_mb, "Memory budget per chunk (MiB)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  sub->add_option("-o,--out", a->out, "Directory for probe.csv, probe.json and probe.html");
  sub->add_option("--format", a->format,
                  "Format of the table on stdout: text (aligned), csv or json (the contents of "
                  "probe.csv / probe.json); status lines go to stderr")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "csv", "json"}));
  a->distributed.add_to(sub);
  add_device_option(sub, a->device);
  sub->add_option("--precision", a->precision,
                  "Forward arithmetic of the probed models: float32, bfloat16 (bf16, autocast) "
                  "or float16 (fp16, GPU only)")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "fp32", "bfloat16", "bf16", "float16", "fp16"}));

  return [a] {
    if (a->models.empty() && a->builtins.empty())
      throw UsageError("eqnn probe: give a model: --model FILE (repeatable) or --builtin gcnn|cnn");
    const std::vector<std::string> names = model_names(a->models);
    probe::ProbeOptions options;
    const MetricSelection selection = parse_metric_selection(a->metrics);
    options.metrics = selection.geed;
    options.deviations = parse_deviation_list(a->deviations);
    options.stages = parse_stage_list(a->stages);
    options.memory_budget_bytes = a->budget_mb << 20;
    options.normalisation_samples = a->normalisation_samples;
    const torch::Device device = parse_device(a->device, "eqnn probe");
    a->distributed.validate("eqnn probe");
    const Precision precision = precision_from_name(a->precision);
    if (precision == Precision::Float16 && device.is_cpu())
      throw UsageError(
          "eqnn probe: --precision float16 runs on a GPU only (--device cuda); on "
          "the CPU use bfloat16");
    const bool sharded = a->distributed.world_size > 1;
    if (sharded && selection.fitted)
      throw UsageError(
          "eqnn probe: --metrics fitted is not sharded (the maps are fitted on all "
          "samples): run it in one process");
    if (sharded && a->normalisation_samples == 0)
      throw UsageError(
          "eqnn probe: --normalisation-samples 0 (all pairs) crosses the shards of "
          "--world-size " +
          std::to_string(a->distributed.world_size) + ": give a number of samples");
    // rank 0 speaks and writes; the other ranks only compute
    const bool lead = a->distributed.rank == 0;
    if (!a->out.empty() && lead) check_output_directory(a->out);

    torch::manual_seed(a->seed);
    torch::Tensor inputs;
    probe::Provenance data_provenance;
    if (a->images.empty()) {
      inputs = torch::rand({a->samples, 1, a->size, a->size});
      data_provenance["data"] = "uniform random in [0, 1), " + std::to_string(a->size) + "x" +
                                std::to_string(a->size) + " (torch::rand after --seed)";
    } else {
      inputs = data::load_idx_images(a->images, a->labels, a->samples).images;
      add_file_provenance(data_provenance, "data_file", a->images);
      if (!a->labels.empty()) add_file_provenance(data_provenance, "labels_file", a->labels);
    }
    inputs = inputs.to(device);
    data_provenance["seed"] = std::to_string(a->seed);
    data_provenance["precision"] = to_string(precision);
    data_provenance["command"] = command_line();

    std::vector<LoadedModel> loaded;
    for (size_t i = 0; i < a->models.size(); ++i)
      loaded.push_back(load_file_model(*a, a->models[i], names[i]));
    for (const std::string& arch : a->builtins)
      loaded.push_back(load_builtin(*a, arch, inputs.size(-1), inputs.size(1)));
    for (size_t i = 0; i < loaded.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (loaded[i].model.name == loaded[j].model.name)
          throw UsageError("eqnn probe: two models are named '" + loaded[i].model.name + "'");
    const auto transforms =
        transforms_for(*a, loaded.size() > 1 && !transforms_chosen(*a) ? common_group(loaded)
                                                                       : loaded.front().group);
    const auto communicator = a->distributed.connect("eqnn probe");
    // status lines once nothing can be refused any more
    std::ostringstream quiet;
    std::ostream& status = lead ? std::cerr : quiet;
    const auto [shard_begin, shard_end] =
        distributed::shard_range(inputs.size(0), communicator->world_size(), communicator->rank());
    const int64_t shard = shard_end - shard_begin;
    if (sharded)
      status << "shards: " << communicator->world_size() << " processes; rank 0 probes samples "
             << shard_begin << ".." << shard_end - 1 << " of " << inputs.size(0) << "\n";
    if (a->images.empty())
      status << "data: " << a->samples << " random " << a->size << "x" << a->size << " images\n";
    else
      status << "data: " << inputs.size(0) << " images from " << a->images << "\n";

    probe::Report report;
    std::string title = "eqnn probe: ";
    for (const LoadedModel& m : loaded) {
      status << "model: " << m.model.name << ", " << m.model.points.size()
             << " probe points; transforms: " << transforms.size() << "\n";
      const std::string who = loaded.size() > 1 ? " " + m.model.name : "";
      probe::Report one;
      const AutocastGuard autocast(precision, device.type());
      if (!options.metrics.empty()) {
        Progress progress("probing" + who, shard, !lead);
        options.progress = [&](int64_t done, int64_t) { progress.update(done); };
        one = sharded
                  ? probe::run_probe_sharded(m.model, inputs, transforms, options, *communicator)
                  : probe::run_probe(m.model, inputs, transforms, options);
        progress.finish();
      }
      if (selection.fitted) {
        probe::FittedActionOptions fitting;
        fitting.deviations = options.deviations;
        Progress progress("fitting latent actions" + who, inputs.size(0));
        fitting.progress = [&](int64_t done, int64_t) { progress.update(done); };
        one.merge(probe::fit_latent_actions(m.model, inputs, transforms, fitting).report);
        progress.finish();
      }
      if (selection.lie) {
        probe::LieDerivativeOptions lie;
        Progress progress("Lie derivatives" + who, shard, !lead);
        lie.progress = [&](int64_t done, int64_t) { progress.update(done); };
        append_rows(one, sharded
                             ? probe::lie_derivatives_sharded(m.model, inputs, lie, *communicator)
                             : probe::lie_derivatives(m.model, inputs, lie));
        progress.finish();
        if (!m.sequential.is_empty() && sharded) {
          status << "note: the Lie layer attribution is not sharded; run it in one process\n";
        } else if (!m.sequential.is_empty()) {
          // the layer attribution (eqnn models are Sequentials); its total is the row above
          Progress attributing("Lie attribution" + who, inputs.size(0));
          lie.progress = [&](int64_t done, int64_t) { attributing.update(done); };
          probe::Report attribution =
              probe::lie_derivative_attribution(m.sequential, m.model.name, inputs, lie);
          attribution.rows.erase(std::remove_if(attribution.rows.begin(), attribution.rows.end(),
                                                [](const probe::ReportRow& r) {
                                                  return r.metric == "lie_derivative";
                                                }),
                                 attribution.rows.end());
          append_rows(one, attribution);
          attributing.finish();
        }
      }
      probe::Provenance sources = data_provenance;
      if (!m.file.empty()) add_file_provenance(sources, "model_file", m.file);
      for (auto& entry : one.provenance)
        entry.second.insert(sources.begin(), sources.end());
      report.merge(one);
      title += (report.rows.size() == one.rows.size() ? "" : ", ") + m.model.name;
    }
    if (!lead) return 0;
    print_report(report, a->format);
    if (!a->out.empty()) write_report_files(report, a->out, title);
    return 0;
  };
}

}  // namespace eqnn_cli
