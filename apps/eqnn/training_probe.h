// eqnn train --probe-every K (internal to the app): the G-EED of every stage, measured on a fixed
// set of test images every K epochs and after the last, kept as a history (in the checkpoint) and
// drawn as one report with a line per probed epoch.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

#include <nlohmann/json.hpp>

#include <string>

#include "eqnn/checkpoint.h"
#include "eqnn/probe/report.h"

namespace eqnn_cli {

class TrainingProbe {
 public:
  /// Probes `model` (built from `spec`) on `inputs` under every element of the model's group (D4
  /// for plain CNNs) after epochs every, 2 every, ... and after epoch `epochs`; `history` is what
  /// an earlier run of the same checkpoint recorded (a JSON array, or null).
  TrainingProbe(torch::nn::Sequential model, const eqnn::ModelSpec& spec, torch::Tensor inputs,
                int64_t every, int64_t epochs, nlohmann::json history);

  /// After epoch `epoch` (0-based) with mean loss `loss`: probes the model in eval mode (then back
  /// in train mode) when due and records it; returns whether it probed.
  bool after_epoch(int64_t epoch, double loss);

  /// Every probe so far: [{"epoch" (1-based), "loss", "report" (probe.json without per-sample
  /// values)}].
  const nlohmann::json& history() const { return history_; }
  /// The report of every probe so far, one model per probed epoch ("epoch 3").
  eqnn::probe::Report report() const;

 private:
  torch::nn::Sequential model_;
  eqnn::ModelSpec spec_;
  torch::Tensor inputs_;
  int64_t every_, epochs_;
  nlohmann::json history_;
};

}  // namespace eqnn_cli
