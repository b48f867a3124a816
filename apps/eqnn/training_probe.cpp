#include "training_probe.h"

#include <iostream>

#include "cli.h"
#include "eqnn/group.h"
#include "eqnn/probe/probe.h"

namespace eqnn_cli {

TrainingProbe::TrainingProbe(torch::nn::Sequential model, const eqnn::ModelSpec& spec,
                             torch::Tensor inputs, int64_t every, int64_t epochs,
                             nlohmann::json history)
    : model_(std::move(model)),
      spec_(spec),
      inputs_(std::move(inputs)),
      every_(every),
      epochs_(epochs),
      history_(history.is_array() ? std::move(history) : nlohmann::json::array()) {}

bool TrainingProbe::after_epoch(int64_t epoch, double loss) {
  const int64_t done = epoch + 1;
  if (every_ <= 0 || (done % every_ != 0 && done != epochs_)) return false;
  using namespace eqnn;
  const Group group = spec_.arch == "gcnn" ? Group::from_name(spec_.group) : Group::d4();
  const std::string name = "epoch " + std::to_string(done);
  model_->eval();
  probe::Report report =
      probe::run_probe(probe::model_of(model_, name), inputs_, probe::group_transforms(group));
  model_->train();
  report.provenance[name]["command"] = command_line();
  report.provenance[name]["model"] = spec_.describe();
  report.provenance[name]["data"] = "the first " + std::to_string(inputs_.size(0)) + " test images";
  // The history stays small: rows without their per-sample values (the intervals are kept).
  nlohmann::json compact = nlohmann::json::parse(report.json());
  for (auto& row : compact.at("rows"))
    row.erase("per_sample");
  // A resumed run that repeats an epoch replaces its entry.
  for (auto it = history_.begin(); it != history_.end();)
    it = it->value("epoch", int64_t{-1}) == done ? history_.erase(it) : it + 1;
  history_.push_back({{"epoch", done}, {"loss", loss}, {"report", compact}});
  for (const auto& r : report.rows)
    if (r.metric == "output_kl")
      std::cout << "probe after epoch " << done << ": output KL under " << group.name() << " "
                << r.value << " (" << 100 * report.confidence_level << "% CI " << r.ci_low << " to "
                << r.ci_high << ")\n";
  return true;
}

eqnn::probe::Report TrainingProbe::report() const {
  eqnn::probe::Report merged;
  for (const auto& entry : history_)
    merged.merge(eqnn::probe::Report::from_json(entry.at("report").dump()));
  return merged;
}

}  // namespace eqnn_cli
