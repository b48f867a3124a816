// eqnn demo: the seed paper's question on real data in one command. Does a network learn invariance
// from augmentation, or must it be built in, and where in the network does it appear? Trains a
// plain CNN, the same CNN with augmentation by the group, and a G-CNN of similar size on
// Fashion-MNIST, and a second G-CNN for rotations off the pixel grid (C8 by default, steerable
// filters); measures accuracy under every group element, under rotations the augmentation never
// saw and against the rotation angle; probes every model layer by layer; prints a summary and
// writes JSON + HTML.
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "arg_checks.h"
#include "cli.h"
#include "commands.h"
#include "device_arg.h"
#include "eqnn/eqnn.h"
#include "progress.h"
#include "table.h"
#include "training_args.h"

namespace eqnn_cli {
namespace {

using namespace eqnn;
using Clock = std::chrono::steady_clock;

/// Images per forward when measuring accuracy. At 500 a G-CNN's first feature maps (75 MB for
/// 48 channels at 28x28) leave the caches, and its pooling and batch norm run at memory speed:
/// 128 evaluated 16% (p4m) and 24% (the 3x3 C8 model) faster per image on the 2-core AVX2 EPYC
/// (bench/analysis.md).
constexpr int64_t kEvalBatch = 128;

/// The second G-CNN (--rotation-group): 5x5 steerable filters (7 basis functions each) in its
/// group convolutions, a 7x7 lifting layer (14), 7/14/28 fields and the binomial blur before its
/// pools. Measured with eqnn_rotation_model_ablation (README): for C8, 0.882 upright and 0.827 at
/// the unseen rotations; the first C8 model (6/12/24 fields, 3x3: 4 basis functions; 5x5
/// lifting) reached 0.848 and 0.668, and the same shape with 5/10/20 fields 0.871 and 0.797 in
/// about 0.6 of the training time on the same machine.
constexpr int64_t kRotationKernelSize = 5;
constexpr int64_t kRotationFirstKernelSize = 7;
constexpr int64_t kRotationWidths[3] = {7, 14, 28};

struct DemoArgs {
  std::string group = "d4";
  DataArgs data;
  RecipeArgs recipe;
  int64_t probe_samples = 500;
  std::vector<double> unseen = {45, 135, 225, 315};
  std::string rotation_group = "c8";  ///< the second G-CNN's group; "none": no second G-CNN
  double angle_step = 15;             ///< the accuracy curve's step, degrees
  int64_t curve_images = 2000;        ///< test images of the accuracy curve
  std::string out = "eqnn-demo";
  std::string device = "cpu";
};

/// One of the contenders.
struct Contender {
  std::string name;  ///< "cnn", "cnn+aug", "gcnn", "gcnn-c8"
  ModelSpec spec;
  std::optional<Group> augment;
};

struct Outcome {
  Contender who;
  torch::nn::Sequential model{nullptr};
  int64_t parameters = 0;
  double train_seconds = 0;
  std::vector<double> epoch_losses;
  double test_accuracy = 0;
  std::vector<double> element_accuracy;  ///< one per group element, in the group's order
  std::vector<double> unseen_accuracy;   ///< one per unseen rotation
  std::vector<double> curve_accuracy;    ///< one per angle of the accuracy curve
};

/// The accuracy curve's angles: 0, step, 2 step, ... up to 360 included when step divides it.
std::vector<double> curve_angles(double step) {
  std::vector<double> degrees;
  for (int64_t k = 0; static_cast<double>(k) * step <= 360.0 + 1e-9; ++k)
    degrees.push_back(static_cast<double>(k) * step);
  return degrees;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string fixed(double value, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << value;
  return os.str();
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v)
    s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

double min_of(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

Outcome train_and_evaluate(const Contender& who, const Datasets& data, const DemoArgs& a,
                           const Group& group, const std::vector<probe::Transform>& unseen,
                           const std::vector<probe::Transform>& curve, int64_t curve_images) {
  Outcome o;
  o.who = who;
  torch::manual_seed(a.recipe.seed);
  o.model = build_model(who.spec);
  o.model->to(parse_device(a.device, "eqnn demo"));
  o.parameters = models::parameter_count(*o.model);
  torch::optim::Adam optimizer(o.model->parameters(), torch::optim::AdamOptions(a.recipe.lr));
  TrainOptions options = a.recipe.options();
  options.augment = who.augment;
  std::shared_ptr<Progress> bar;
  options.progress = training_progress("train " + who.name, 0, options.epochs, bar, false);
  const auto start = Clock::now();
  o.epoch_losses =
      train_classifier(o.model, optimizer, data.train.images, data.train.labels, options);
  o.train_seconds = seconds_since(start);
  o.model->eval();  // from here on: running batch-norm statistics, as a deployed model
  {
    InterruptGuard finish_writing;  // Ctrl-C waits for the checkpoint to be in place
    save_checkpoint(a.out + "/" + who.name + ".pt", who.spec, o.model,
                    nlohmann::json{{"epoch", options.epochs - 1},
                                   {"recipe", recipe_json(a.recipe, a.data,
                                                          who.augment ? who.augment->name() : "")}}
                        .dump(),
                    &optimizer);
  }

  const auto& images = data.test.images;
  const auto& labels = data.test.labels;
  const torch::Tensor curve_x = images.narrow(0, 0, curve_images);
  const torch::Tensor curve_y = labels.narrow(0, 0, curve_images);
  const int64_t passes =
      group.order() + static_cast<int64_t>(unseen.size()) + static_cast<int64_t>(curve.size());
  Progress evaluating("evaluate " + who.name, passes);
  for (int64_t t = 0; t < group.order(); ++t) {
    o.element_accuracy.push_back(
        accuracy(o.model, images, labels, kEvalBatch, std::make_pair(group, t)));
    evaluating.update(t + 1);
  }
  o.test_accuracy = o.element_accuracy.front();  // the identity comes first
  for (const probe::Transform& tr : unseen) {
    o.unseen_accuracy.push_back(accuracy(o.model, images, labels, kEvalBatch,
                                         [&](const torch::Tensor& x) { return tr.apply(x); }));
    evaluating.update(group.order() + static_cast<int64_t>(o.unseen_accuracy.size()));
  }
  for (const probe::Transform& tr : curve) {
    // A full turn is the identity: 360 degrees repeats the 0 degrees point of the curve.
    if (!o.curve_accuracy.empty() && std::abs(tr.degrees - 360.0) < 1e-9)
      o.curve_accuracy.push_back(o.curve_accuracy.front());
    else
      o.curve_accuracy.push_back(accuracy(o.model, curve_x, curve_y, kEvalBatch,
                                          [&](const torch::Tensor& x) { return tr.apply(x); }));
    evaluating.update(passes - static_cast<int64_t>(curve.size()) +
                      static_cast<int64_t>(o.curve_accuracy.size()));
  }
  evaluating.finish();
  return o;
}

probe::Report probe_all(const std::vector<Outcome>& outcomes, const torch::Tensor& inputs,
                        const std::vector<probe::Transform>& transforms,
                        const std::vector<probe::Metric>& metrics, const std::string& label) {
  probe::ProbeOptions options;
  options.metrics = metrics;
  probe::Report merged;
  for (const Outcome& o : outcomes) {
    Progress progress("probe " + o.who.name + " (" + label + ")", inputs.size(0));
    options.progress = [&](int64_t done, int64_t) { progress.update(done); };
    const probe::Report r =
        run_probe(probe::model_of(o.model, o.who.name), inputs, transforms, options);
    progress.finish();
    if (merged.rows.empty())
      merged = r;
    else
      merged.merge(r);
  }
  return merged;
}

/// Value of (model, stage, metric, cosine) in `r`, or NaN.
double cosine_value(const probe::Report& r, const std::string& model, int64_t stage,
                    const std::string& metric) {
  const probe::ReportRow* row =
      r.find(model, stage, metric, metric == "output_kl" ? "kl" : "cosine");
  return row ? row->value : std::numeric_limits<double>::quiet_NaN();
}

std::string cell(double v) {
  return std::isnan(v) ? "-" : format_scientific(v, 1);
}

int64_t stage_count(const probe::Report& r, const std::string& model) {
  int64_t n = 0;
  for (const auto& row : r.rows)
    if (row.model == model) n = std::max(n, row.stage_index + 1);
  return n;
}

/// The layer of stage `stage` of `model` without its "N: " prefix, or "-" if it has none.
std::string stage_layer(const probe::Report& r, const std::string& model, int64_t stage) {
  for (const auto& row : r.rows)
    if (row.model == model && row.stage_index == stage) {
      const size_t colon = row.stage.find(": ");
      return colon == std::string::npos ? row.stage : row.stage.substr(colon + 2);
    }
  return "-";
}

/// The accuracy table (terminal and HTML share the cells).
Table accuracy_table(const std::vector<Outcome>& outcomes, const Group& group,
                     const std::vector<double>& unseen, const probe::Report& seen_probe,
                     const probe::Report& unseen_probe) {
  std::ostringstream unseen_names;
  for (size_t i = 0; i < unseen.size(); ++i)
    unseen_names << (i ? "," : "") << unseen[i];
  Table t({"model", "parameters", "train s", "test acc", "min acc over " + group.name(),
           "mean acc over " + group.name(), "acc rot " + unseen_names.str(),
           "output KL " + group.name(), "output KL rot"});
  for (const Outcome& o : outcomes) {
    const int64_t last = stage_count(seen_probe, o.who.name) - 1;
    t.add_row({o.who.name, std::to_string(o.parameters), fixed(o.train_seconds, 0),
               fixed(o.test_accuracy, 4), fixed(min_of(o.element_accuracy), 4),
               fixed(mean(o.element_accuracy), 4), fixed(mean(o.unseen_accuracy), 4),
               cell(cosine_value(seen_probe, o.who.name, last, "output_kl")),
               cell(cosine_value(unseen_probe, o.who.name, last, "output_kl"))});
  }
  return t;
}

/// Invariance (cosine G-EED) stage by stage, one column per model and transform set.
Table invariance_table(const std::vector<Outcome>& outcomes, const Group& group,
                       const probe::Report& seen_probe, const probe::Report& unseen_probe) {
  std::vector<std::string> header = {"stage (" + outcomes.front().who.name + " / " +
                                     outcomes.back().who.name + ")"};
  for (const Outcome& o : outcomes)
    header.push_back(o.who.name + " " + group.name());
  for (const Outcome& o : outcomes)
    header.push_back(o.who.name + " rot");
  Table t(header);
  const std::string first = outcomes.front().who.name, last = outcomes.back().who.name;
  const int64_t stages = std::max(stage_count(seen_probe, first), stage_count(seen_probe, last));
  for (int64_t s = 0; s < stages; ++s) {
    std::vector<std::string> row = {std::to_string(s) + ": " + stage_layer(seen_probe, first, s) +
                                    " / " + stage_layer(seen_probe, last, s)};
    for (const Outcome& o : outcomes)
      row.push_back(cell(cosine_value(seen_probe, o.who.name, s, "invariance")));
    for (const Outcome& o : outcomes)
      row.push_back(cell(cosine_value(unseen_probe, o.who.name, s, "invariance")));
    t.add_row(row);
  }
  return t;
}

/// Learned latent actions of the plain CNNs stage by stage: held-out cosine G-EED under the plane
/// action, a fitted channel permutation and a fitted linear map, and how well the linear maps
/// compose (docs/metrics.md, section 7).
Table fitted_table(const std::vector<std::string>& models, const probe::Report& fitted) {
  std::vector<std::string> header = {"stage"};
  for (const std::string& m : models)
    for (const char* what : {" plane", " perm", " linear", " perm fails", " lin comp err"})
      header.push_back(m + what);
  Table t(header);
  const int64_t stages = stage_count(fitted, models.front() + " [fitted permutation]");
  for (int64_t s = 0; s < stages; ++s) {
    std::vector<std::string> row = {
        std::to_string(s) + ": " +
        stage_layer(fitted, models.front() + " [fitted permutation]", s)};
    for (const std::string& m : models) {
      const auto value = [&](const std::string& kind, const std::string& metric,
                             const std::string& deviation) {
        const probe::ReportRow* r = fitted.find(m + " [" + kind + "]", s, metric, deviation);
        return r ? r->value : std::numeric_limits<double>::quiet_NaN();
      };
      row.push_back(cell(value("fixed action, held out", "equivariance", "cosine")));
      row.push_back(cell(value("fitted permutation", "equivariance", "cosine")));
      row.push_back(cell(value("fitted linear", "equivariance", "cosine")));
      const double fails = value("fitted permutation", "composition", "pairs");
      row.push_back(std::isnan(fails) ? "-" : fixed(fails, 2));
      row.push_back(cell(value("fitted linear", "composition", "relative_frobenius")));
    }
    t.add_row(row);
  }
  return t;
}

/// Accuracy against the rotation angle: one row per angle, one column per model.
Table curve_table(const std::vector<Outcome>& outcomes, const std::vector<double>& degrees) {
  std::vector<std::string> header = {"rotation (degrees)"};
  for (const Outcome& o : outcomes)
    header.push_back(o.who.name);
  Table t(header);
  for (size_t i = 0; i < degrees.size(); ++i) {
    std::vector<std::string> row = {
        fixed(degrees[i], degrees[i] == std::round(degrees[i]) ? 0 : 1)};
    for (const Outcome& o : outcomes)
      row.push_back(fixed(o.curve_accuracy[i], 4));
    t.add_row(row);
  }
  return t;
}

/// The same as a chart: x labels at the multiples of 45 degrees.
std::string curve_chart(const std::vector<Outcome>& outcomes, const std::vector<double>& degrees,
                        int64_t images) {
  probe::LineChart chart;
  chart.title = "Test accuracy against rotation (" + std::to_string(images) + " test images)";
  chart.x_title = "rotation of the test images (degrees, counter-clockwise)";
  chart.y_title = "test accuracy";
  chart.x = degrees;
  for (double d : degrees)
    chart.x_labels.push_back(std::fmod(d, 45.0) == 0 ? fixed(d, 0) : "");
  chart.y_min = 0;
  chart.y_max = 1;
  for (const Outcome& o : outcomes)
    chart.series.push_back({o.who.name, o.curve_accuracy});
  return chart.svg();
}

std::string html_table(const Table& t) {
  std::ostringstream os;
  os << "<table><tr>";
  for (const auto& h : t.header())
    os << "<th>" << probe::Report::html_escape(h) << "</th>";
  os << "</tr>";
  for (const auto& row : t.rows()) {
    os << "<tr>";
    for (const auto& c : row)
      os << "<td>" << probe::Report::html_escape(c) << "</td>";
    os << "</tr>";
  }
  os << "</table>";
  return os.str();
}

nlohmann::json outcome_json(const Outcome& o, const Group& group,
                            const std::vector<probe::Transform>& unseen,
                            const std::vector<double>& curve_degrees) {
  nlohmann::json j{{"name", o.who.name},
                   {"architecture", o.who.spec.describe()},
                   {"spec", nlohmann::json::parse(o.who.spec.to_json())},
                   {"augmentation", o.who.augment ? o.who.augment->name() : "none"},
                   {"parameters", o.parameters},
                   {"train_seconds", o.train_seconds},
                   {"epoch_losses", o.epoch_losses},
                   {"test_accuracy", o.test_accuracy}};
  for (int64_t t = 0; t < group.order(); ++t)
    j["accuracy_per_element"][group.element_name(t)] = o.element_accuracy[t];
  for (size_t i = 0; i < unseen.size(); ++i)
    j["accuracy_unseen_rotation"][unseen[i].name] = o.unseen_accuracy[i];
  j["accuracy_by_angle"] = {{"degrees", curve_degrees}, {"accuracy", o.curve_accuracy}};
  return j;
}

/// A report's JSON without the per-sample breakdown (eqnn probe gives it; here it would be most of
/// the file).
nlohmann::json report_json(const probe::Report& report) {
  nlohmann::json j = nlohmann::json::parse(report.json());
  for (auto& row : j.at("rows"))
    row.erase("per_sample");
  return j;
}

}  // namespace

Command add_demo_command(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* sub = app.add_subcommand(
      "demo",
      "Train a plain CNN, the CNN with group augmentation, a G-CNN and a second G-CNN for "
      "rotations off the grid on Fashion-MNIST; measure accuracy under the group, unseen "
      "rotations and against the angle; probe every layer");
  sub->add_option("-g,--group", a->group, "Group of the augmentation and the G-CNN")
      ->capture_default_str()
      ->check(group_name());
  sub->add_option("--rotation-group", a->rotation_group,
                  "Group of the second G-CNN, whose rotations leave the pixel grid (steerable "
                  "5x5 filters, 7x7 lifting, 7/14/28 fields; e.g. c8, d8); none: leave it out")
      ->capture_default_str()
      ->check(group_name() | CLI::IsMember({"none"}));
  sub->add_option("--angle-step", a->angle_step,
                  "Step (degrees) of the accuracy-against-rotation curve, from 0 to 360")
      ->capture_default_str()
      ->check(number_in(1, 360));
  sub->add_option("--curve-images", a->curve_images,
                  "Test images of the accuracy-against-rotation curve (the first ones)")
      ->capture_default_str()
      ->check(integer_in(1));
  a->recipe.add_to(sub);
  a->data.add_to(sub);
  sub->add_option("-n,--samples,--probe-samples", a->probe_samples,
                  "Test images the probes use (--probe-samples: an alias, as in eqnn probe)")
      ->capture_default_str()
      ->check(integer_in(1));
  sub->add_option("--unseen", a->unseen,
                  "Rotations (degrees) the augmentation never saw, for out-of-distribution "
                  "accuracy and probes")
      ->delimiter(',')
      ->capture_default_str()
      ->check(finite_number());
  sub->add_option("-o,--out", a->out,
                  "Directory for demo.json, demo.html, probe CSVs and the "
                  "checkpoints")
      ->capture_default_str();
  add_device_option(sub, a->device);

  return [a] {
    const auto start = Clock::now();
    parse_device(a->device, "eqnn demo");  // refused before any work
    const Group group = Group::from_name(a->group);
    if (a->unseen.empty()) throw UsageError("eqnn demo: --unseen needs at least one angle");
    if (a->rotation_group != "none" && Group::from_name(a->rotation_group) == group)
      throw UsageError("eqnn demo: --rotation-group " + a->rotation_group +
                       " is the group of the first G-CNN (--group " + a->group +
                       "); choose another group or none");
    prepare_output_directory(a->out, "--out", "eqnn demo");  // before any work
    const Datasets data = load_datasets(a->data, "eqnn demo");

    ModelSpec cnn;
    cnn.arch = "cnn";
    cnn.input_size = data.train.images.size(-1);
    cnn.in_channels = data.train.images.size(1);
    cnn.classes = std::max<int64_t>(data.train.labels.max().item<int64_t>() + 1, 2);
    ModelSpec gcnn = cnn;
    gcnn.arch = "gcnn";
    gcnn.group = group.name();
    std::vector<Contender> contenders = {
        {"cnn", cnn, std::nullopt}, {"cnn+aug", cnn, group}, {"gcnn", gcnn, std::nullopt}};
    if (a->rotation_group != "none") {
      ModelSpec second = gcnn;
      second.group = Group::from_name(a->rotation_group).name();
      second.kernel_size = kRotationKernelSize;
      second.first_kernel_size = kRotationFirstKernelSize;
      second.width1 = kRotationWidths[0];
      second.width2 = kRotationWidths[1];
      second.width3 = kRotationWidths[2];
      std::string name = "gcnn-" + second.group;
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      contenders.push_back({name, second, std::nullopt});
    }
    const std::vector<probe::Transform> unseen = probe::rotation_transforms(a->unseen);
    const std::vector<double> degrees = curve_angles(a->angle_step);
    const std::vector<probe::Transform> curve = probe::rotation_transforms(degrees);
    const int64_t curve_images = std::min(a->curve_images, data.test.images.size(0));

    std::cout << "eqnn demo: " << data.train.images.size(0) << " training and "
              << data.test.images.size(0) << " test images from " << a->data.dir << "; group "
              << group.name() << "; " << a->recipe.epochs << " epochs, batch " << a->recipe.batch
              << ", lr " << a->recipe.lr << " (" << a->recipe.schedule << "); "
              << at::get_num_threads() << " threads\n";
    std::vector<Outcome> outcomes;
    for (const Contender& c : contenders) {
      outcomes.push_back(train_and_evaluate(c, data, *a, group, unseen, curve, curve_images));
      const Outcome& o = outcomes.back();
      std::cout << c.name << ": " << c.spec.describe() << ", " << o.parameters
                << " parameters, augmentation " << (c.augment ? c.augment->name() : "none")
                << "; trained in " << fixed(o.train_seconds, 0) << " s; test accuracy "
                << fixed(o.test_accuracy, 4) << "\n";
    }

    const int64_t n = std::min(a->probe_samples, data.test.images.size(0));
    const torch::Tensor inputs =
        data.test.images.narrow(0, 0, n).to(parse_device(a->device, "eqnn demo"));
    const probe::Report seen_probe =
        probe_all(outcomes, inputs, probe::group_transforms(group),
                  {probe::Metric::Equivariance, probe::Metric::Invariance, probe::Metric::OutputKL},
                  group.name());
    // The orbit {0 degrees} + the unseen rotations (an explicit identity takes part in the orbit
    // centroid). Equivariance where a stage has an action for them: the plain CNN's plane (by
    // interpolation) and the second G-CNN's fields where they are its group's elements.
    std::vector<double> orbit = {0};
    orbit.insert(orbit.end(), a->unseen.begin(), a->unseen.end());
    const probe::Report unseen_probe = probe_all(
        outcomes, inputs, probe::rotation_transforms(orbit),
        {probe::Metric::Equivariance, probe::Metric::Invariance, probe::Metric::OutputKL}, "rot");

    // Learned latent actions: is the inside of the plain CNN equivariant in a basis of its own,
    // with and without augmentation? Fitted on half the probe samples, measured on the others.
    probe::Report fitted;
    std::vector<std::string> fitted_models;
    for (const Outcome& o : outcomes) {
      if (o.who.spec.arch != "cnn") continue;
      probe::FittedActionOptions fitting;
      Progress progress("fit latent actions " + o.who.name, n);
      fitting.progress = [&](int64_t done, int64_t) { progress.update(done); };
      fitted.merge(probe::fit_latent_actions(probe::model_of(o.model, o.who.name), inputs,
                                             probe::group_transforms(group), fitting)
                       .report);
      progress.finish();
      fitted_models.push_back(o.who.name);
    }

    const Table accuracies = accuracy_table(outcomes, group, a->unseen, seen_probe, unseen_probe);
    const Table invariance = invariance_table(outcomes, group, seen_probe, unseen_probe);
    std::cout << "\nAccuracy on the " << data.test.images.size(0)
              << " test images, as given, under every element of " << group.name()
              << ", and under the unseen rotations (mean); output KL = softmax G-EED on " << n
              << " test images:\n";
    accuracies.print(std::cout);
    std::cout << "\nInvariance per stage (cosine G-EED; 0 = invariant) under " << group.name()
              << " and under the unseen rotations:\n";
    invariance.print(std::cout);
    std::optional<Table> learned;
    if (!fitted_models.empty()) {
      learned = fitted_table(fitted_models, fitted);
      std::cout << "\nLearned latent actions (held-out cosine G-EED under " << group.name()
                << ": the plane action alone, a fitted channel permutation, a fitted linear map; "
                   "the fraction of pairs whose permutations do not compose; the linear maps' "
                   "composition error):\n";
      learned->print(std::cout);
    }
    const Table by_angle = curve_table(outcomes, degrees);
    std::cout << "\nAccuracy against rotation (counter-clockwise, bilinear, zeros outside) on "
              << curve_images << " test images:\n";
    by_angle.print(std::cout);

    nlohmann::json j;
    j["eqnn_version"] = EQNN_VERSION_STRING;
    j["group"] = group.name();
    j["data"] = {{"directory", a->data.dir},
                 {"train_images", data.train.images.size(0)},
                 {"test_images", data.test.images.size(0)},
                 {"probe_samples", n}};
    j["recipe"] = {
        {"epochs", a->recipe.epochs},      {"batch", a->recipe.batch}, {"lr", a->recipe.lr},
        {"schedule", a->recipe.schedule},  {"seed", a->recipe.seed},   {"optimizer", "adam"},
        {"threads", at::get_num_threads()}};
    j["accuracy_curve_images"] = curve_images;
    for (const Outcome& o : outcomes)
      j["models"].push_back(outcome_json(o, group, unseen, degrees));
    j["probe_group"] = report_json(seen_probe);
    j["probe_unseen_rotations"] = report_json(unseen_probe);
    if (!fitted_models.empty()) j["fitted_actions"] = report_json(fitted);
    j["total_seconds"] = seconds_since(start);

    const std::string title = "eqnn demo: learned or built-in invariance on Fashion-MNIST";
    std::ostringstream body;
    body << "<p>" << data.train.images.size(0) << " training and " << data.test.images.size(0)
         << " test images; group " << group.name() << "; " << a->recipe.epochs << " epochs of Adam"
         << " (lr " << a->recipe.lr << ", " << a->recipe.schedule << "), batch " << a->recipe.batch
         << ", seed " << a->recipe.seed << ". cnn+aug sees each training image under a random "
         << "element of " << group.name() << "; no model saw the unseen rotations.</p>"
         << "<h2>Accuracy</h2>" << html_table(accuracies)
         << "<h2>Accuracy against rotation</h2><p>The first " << curve_images
         << " test images rotated counter-clockwise (bilinear, zeros outside; multiples of 90 "
            "degrees move whole pixels, up to rounding; 360 degrees repeats 0).</p>"
         << curve_chart(outcomes, degrees, curve_images) << "<details><summary>Table</summary>"
         << html_table(by_angle) << "</details>"
         << "<h2>Invariance per stage (cosine G-EED)</h2>" << html_table(invariance);
    if (learned)
      body << "<h2>Learned latent actions</h2><p>Held-out cosine G-EED of the plain CNNs under "
           << group.name() << " with the plane action alone and with a channel permutation or a "
           << "linear map fitted per element (after Lenc and Vedaldi, CVPR 2015; docs/metrics.md, "
           << "section 7).</p>" << html_table(*learned);
    body << seen_probe.html_section("Probe under " + group.name())
         << unseen_probe.html_section("Probe under the unseen rotations");
    if (!fitted_models.empty()) body << fitted.html_section("Learned latent actions (held out)");
    InterruptGuard finish_writing;  // Ctrl-C waits for the reports to be in place
    probe::Report::write_file(a->out + "/demo.json", j.dump(1));
    probe::Report::write_file(a->out + "/demo.html", probe::Report::html_page(title, body.str()));
    probe::Report::write_file(a->out + "/probe_group.csv", seen_probe.csv());
    probe::Report::write_file(a->out + "/probe_unseen.csv", unseen_probe.csv());
    std::cout << "\nwrote " << a->out << "/demo.json, demo.html, probe_group.csv, "
              << "probe_unseen.csv and the checkpoints";
    for (const Outcome& o : outcomes)
      std::cout << " " << o.who.name << ".pt";
    std::cout << " (total " << fixed(seconds_since(start), 0) << " s)\n";
    return 0;
  };
}

}  // namespace eqnn_cli
