// eqnn train: train an example classifier on IDX images (Fashion-MNIST by default), with optional
// augmentation by a group, atomic per-epoch checkpoints and resume.
#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "arg_checks.h"
#include "cli.h"
#include "commands.h"
#include "device_arg.h"
#include "distributed_args.h"
#include "eqnn/eqnn.h"
#include "progress.h"
#include "report_output.h"
#include "training_args.h"
#include "training_probe.h"

namespace eqnn_cli {
namespace {

constexpr const char* kTrainWho = "eqnn train";

struct TrainArgs {
  std::string arch = "gcnn";
  std::string group = "d4";
  int64_t width1 = 0, width2 = 0, width3 = 0;
  int64_t kernel_size = 0;        // 0: the architecture's default
  int64_t first_kernel_size = 0;  // 0: the architecture's default
  std::string augment;
  DataArgs data;
  RecipeArgs recipe;
  std::string checkpoint;
  bool resume = false;
  bool force = false;
  int64_t probe_every = 0;  // 0: no probes during training
  int64_t probe_samples = 256;
  std::string probe_out;  // default: the checkpoint's path + "-probe"
  std::string device = "cpu";
  std::string precision = "float32";
  DistributedArgs distributed;  // data-parallel training
  bool sync_bn = false;         // batch statistics over all ranks
};

/// Moves the Adam moments loaded with the optimizer state (on the CPU) to the parameters' device.
void move_adam_state(torch::optim::Adam& optimizer, const torch::Device& device) {
  for (auto& entry : optimizer.state()) {
    auto& state = static_cast<torch::optim::AdamParamState&>(*entry.second);
    state.exp_avg(state.exp_avg().to(device));
    state.exp_avg_sq(state.exp_avg_sq().to(device));
    if (state.max_exp_avg_sq().defined()) state.max_exp_avg_sq(state.max_exp_avg_sq().to(device));
  }
}

/// The architecture options must match the checkpoint that is resumed (named, before any data is
/// read; input size and classes come from the data and are checked when the weights load).
void check_same_architecture(const TrainArgs& a, const eqnn::ModelSpec& saved) {
  auto differs = [&](const std::string& option, const std::string& is, const std::string& was) {
    if (is == was) return;
    throw UsageError(std::string(kTrainWho) + ": --resume: " + option + " is " + is + " but '" +
                     a.checkpoint + "' holds " + saved.describe() + " (" + option + " " + was +
                     ")");
  };
  differs("--arch", a.arch, saved.arch);
  if (a.arch == "gcnn")
    differs("--group", eqnn::Group::from_name(a.group).name(), saved.canonical_group());
  differs("--width1", std::to_string(a.width1), std::to_string(saved.width1));
  differs("--width2", std::to_string(a.width2), std::to_string(saved.width2));
  differs("--width3", std::to_string(a.width3), std::to_string(saved.width3));
  differs("--kernel-size", std::to_string(a.kernel_size), std::to_string(saved.kernel_size));
  differs("--first-kernel-size", std::to_string(a.first_kernel_size),
          std::to_string(saved.first_kernel_size));
}

}  // namespace

Command add_train_command(CLI::App& app) {
  using namespace eqnn;
  auto a = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand("train", "Train an example classifier (G-CNN or plain CNN)");
  sub->add_option("--arch", a->arch, "gcnn or cnn")
      ->check(CLI::IsMember({"gcnn", "cnn"}))
      ->capture_default_str();
  sub->add_option("-g,--group", a->group, "Group of the G-CNN")
      ->capture_default_str()
      ->check(group_name());
  sub->add_option("--width1", a->width1,
                  "Fields (gcnn) or channels (cnn) of the first block (0: default)")
      ->check(integer_in(0, ModelSpec::kMaxWidth));
  sub->add_option("--width2", a->width2, "... of the second block (0: default)")
      ->check(integer_in(0, ModelSpec::kMaxWidth));
  sub->add_option("--width3", a->width3, "... of the third block (0: default)")
      ->check(integer_in(0, ModelSpec::kMaxWidth));
  sub->add_option("--kernel-size", a->kernel_size,
                  "Kernel size of the second and third convolutions, odd (0: default, 3)")
      ->check(odd_kernel_size());
  sub->add_option("--first-kernel-size", a->first_kernel_size,
                  "Kernel size of the first convolution (the G-CNN's lifting layer), odd (0: "
                  "default, 5)")
      ->check(odd_kernel_size());
  sub->add_option("--augment", a->augment, "Augment with random elements of this group (e.g. d4)")
      ->check(group_name());
  a->recipe.add_to(sub);
  a->data.add_to(sub);
  sub->add_option("-c,--checkpoint", a->checkpoint,
                  "Checkpoint written after every epoch (atomically); without it the trained "
                  "model is discarded");
  sub->add_flag("--resume", a->resume,
                "Continue from --checkpoint (same architecture and recipe required; --epochs may "
                "grow)");
  sub->add_option("--probe-every", a->probe_every,
                  "Probe the G-EED of every stage every K epochs (and after the last) on the first "
                  "--probe-samples test images: kept in the checkpoint's history and drawn in "
                  "--probe-out/probe.html")
      ->check(integer_in(1));
  sub->add_option("--probe-samples", a->probe_samples, "Test images probed by --probe-every")
      ->capture_default_str()
      ->check(integer_in(1));
  sub->add_option("--probe-out", a->probe_out,
                  "Directory for the --probe-every report (default: the checkpoint's path + "
                  "'-probe')");
  sub->add_flag("--force", a->force,
                "Overwrite an existing --checkpoint (without it, an existing checkpoint is "
                "refused unless --resume)");
  add_device_option(sub, a->device);
  sub->add_option("--precision", a->precision,
                  "Forward arithmetic: float32, bfloat16 (bf16: autocast, float32 master "
                  "weights) or, on CUDA, float16 (fp16: the same with dynamic loss scaling)")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "fp32", "bfloat16", "bf16", "float16", "fp16"}));
  a->distributed.add_to(sub);
  sub->add_flag("--sync-bn", a->sync_bn,
                "With --world-size > 1: batch-norm statistics over the whole batch across ranks "
                "(the single process's training); without it each rank normalises with its "
                "share and the running statistics are averaged after each epoch");

  return [a] {
    // Everything about the options and the output is checked before any data is read.
    const torch::Device device = parse_device(a->device, kTrainWho);
    a->distributed.validate(kTrainWho);
    const int64_t world = a->distributed.world_size;
    if (world > 1 && !device.is_cpu())
      throw UsageError(std::string(kTrainWho) + ": --world-size " + std::to_string(world) +
                       " trains on CPU processes (Gloo); --device " + a->device +
                       " is for one process");
    const Precision precision = precision_from_name(a->precision);
    if (precision == Precision::Float16 && !device.is_cuda())
      throw UsageError(std::string(kTrainWho) + ": --precision " + a->precision +
                       " trains on CUDA (--device cuda); use --precision bf16 on the CPU");
    // rank 0 writes the checkpoint and report and speaks; the other ranks only train
    const bool lead = a->distributed.rank == 0;
    std::string probe_out = a->probe_out;
    if (a->probe_every > 0) {
      if (probe_out.empty() && a->checkpoint.empty())
        throw UsageError(std::string(kTrainWho) +
                         ": --probe-every needs --probe-out DIR or --checkpoint FILE (where its "
                         "report goes)");
      if (probe_out.empty()) probe_out = a->checkpoint + "-probe";
      if (lead) prepare_output_directory(probe_out, "--probe-out", kTrainWho);
    }

    Checkpoint resumed;
    int64_t first_epoch = 0;
    if (a->checkpoint.empty()) {
      if (a->resume)
        throw UsageError(std::string(kTrainWho) + ": --resume needs --checkpoint FILE");
      if (lead)
        std::cerr << "eqnn: warning: no --checkpoint: the trained model will be discarded\n";
    } else {
      if (lead) prepare_output_file(a->checkpoint, "--checkpoint", kTrainWho);
      const bool exists = std::filesystem::exists(a->checkpoint);
      if (a->resume && !exists)
        throw UsageError(std::string(kTrainWho) + ": --resume: the checkpoint '" + a->checkpoint +
                         "' does not exist");
      if (exists && !a->resume && !a->force)
        throw UsageError(std::string(kTrainWho) + ": the checkpoint '" + a->checkpoint +
                         "' exists; pass --resume to continue it or --force to overwrite it");
      if (a->resume) {
        resumed = load_checkpoint(a->checkpoint);
        check_same_architecture(*a, resumed.spec);
        const nlohmann::json extra = nlohmann::json::parse(resumed.extra_json);
        if (extra.contains("recipe"))
          check_same_recipe(extra.at("recipe"), recipe_json(a->recipe, a->data, a->augment),
                            a->checkpoint, kTrainWho);
        else
          std::cerr << "eqnn: warning: '" << a->checkpoint
                    << "' records no recipe (an older eqnn wrote it): the batch size, learning "
                       "rate, schedule, seed, limit and augmentation cannot be checked\n";
        const int64_t saved_world = extra.value("world_size", int64_t{1});
        if (saved_world != world)
          throw UsageError(std::string(kTrainWho) + ": --resume: '" + a->checkpoint +
                           "' was trained by " + std::to_string(saved_world) + " process" +
                           (saved_world == 1 ? "" : "es") + " and this run has --world-size " +
                           std::to_string(world) + ": resume it with --world-size " +
                           std::to_string(saved_world) +
                           " (the batches and their shares depend on it)");
        const bool saved_sync = extra.value("sync_bn", false);
        if (world > 1 && saved_sync != a->sync_bn)
          throw UsageError(std::string(kTrainWho) + ": --resume: '" + a->checkpoint +
                           "' was trained " + (saved_sync ? "with" : "without") +
                           " --sync-bn: resume it " + (saved_sync ? "with" : "without") +
                           " --sync-bn (the batch statistics depend on it)");
        first_epoch = extra.value("epoch", int64_t{-1}) + 1;
        if (first_epoch >= a->recipe.epochs)
          throw UsageError(std::string(kTrainWho) + ": --resume: '" + a->checkpoint + "' has " +
                           std::to_string(first_epoch) + " epochs already and --epochs is " +
                           std::to_string(a->recipe.epochs) + ": pass a larger --epochs");
      }
    }

    const Datasets data = load_datasets(a->data, kTrainWho);
    ModelSpec spec;
    spec.arch = a->arch;
    spec.group = Group::from_name(a->group).name();
    spec.input_size = data.train.images.size(-1);
    spec.in_channels = data.train.images.size(1);
    spec.width1 = a->width1;
    spec.width2 = a->width2;
    spec.width3 = a->width3;
    spec.kernel_size = a->kernel_size;
    spec.first_kernel_size = a->first_kernel_size;
    if (a->resume) spec.blur = resumed.spec.blur;  // not an option: the checkpoint's own
    spec.classes = std::max<int64_t>(data.train.labels.max().item<int64_t>() + 1, 2);
    torch::manual_seed(a->recipe.seed);
    torch::nn::Sequential model = build_model(spec);
    if (a->resume) load_weights(a->checkpoint, spec, model);
    model->to(device);
    torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(a->recipe.lr));
    std::ostringstream quiet;
    std::ostream& out = lead ? std::cout : quiet;
    if (a->resume) {
      load_optimizer_state(a->checkpoint, optimizer);
      move_adam_state(optimizer, device);
      out << "resuming " << spec.describe() << " from " << a->checkpoint << " at epoch "
          << first_epoch << "\n";
    }
    const auto communicator = a->distributed.connect(kTrainWho);
    out << spec.describe() << ": " << models::parameter_count(*model) << " parameters; "
        << data.train.images.size(0) << " training and " << data.test.images.size(0)
        << " test images; " << at::get_num_threads() << " threads"
        << (world > 1 ? " in each of " + std::to_string(world) + " processes" : "") << " on "
        << device << "\n";

    TrainOptions options = a->recipe.options();
    options.communicator = communicator;
    options.precision = precision;
    options.sync_batch_norm = a->sync_bn;
    if (precision == Precision::Float16) {  // the scale continues where the checkpoint left it
      options.loss_scaler = std::make_shared<LossScaler>();
      if (a->resume) {
        const nlohmann::json extra = nlohmann::json::parse(resumed.extra_json);
        if (extra.contains("loss_scale"))
          options.loss_scaler->restore(extra.at("loss_scale").get<double>(),
                                       extra.value("loss_scale_clean_steps", int64_t{0}));
      }
    }
    if (!a->augment.empty()) options.augment = Group::from_name(a->augment);
    const nlohmann::json recipe = recipe_json(a->recipe, a->data, a->augment);
    std::shared_ptr<Progress> bar;
    if (lead)
      options.progress = training_progress("training", first_epoch, options.epochs, bar, true);
    nlohmann::json history = nullptr;
    if (a->resume) history = nlohmann::json::parse(resumed.extra_json).value("history", history);
    TrainingProbe probes(
        model, spec,
        data.test.images.narrow(0, 0, std::min(a->probe_samples, data.test.images.size(0)))
            .to(device),
        a->probe_every, options.epochs, history);
    options.on_epoch_end = [&](int64_t epoch, double loss) {
      if (!lead) return;
      const bool probed = probes.after_epoch(epoch, loss);
      InterruptGuard finish_writing;  // Ctrl-C waits for the checkpoint and report to be in place
      if (probed) write_report_files(probes.report(), probe_out, "G-EED during training");
      if (a->checkpoint.empty()) return;
      nlohmann::json extra = {
          {"epoch", epoch}, {"recipe", recipe}, {"world_size", world}, {"sync_bn", a->sync_bn}};
      if (options.loss_scaler != nullptr) {
        extra["loss_scale"] = options.loss_scaler->current_scale();
        extra["loss_scale_clean_steps"] = options.loss_scaler->clean_steps();
      }
      if (!probes.history().empty()) extra["history"] = probes.history();
      save_checkpoint(a->checkpoint, spec, model, extra.dump(), &optimizer);
    };
    train_classifier(model, optimizer, data.train.images, data.train.labels, options, first_epoch);
    if (!lead) return 0;
    std::cout << "test accuracy: " << accuracy(model, data.test.images, data.test.labels) << "\n";
    if (!a->checkpoint.empty()) std::cout << "checkpoint: " << a->checkpoint << "\n";
    return 0;
  };
}

}  // namespace eqnn_cli
