#include "eqnn/probe/sharded.h"

#include <c10/util/Exception.h>

#include <cmath>
#include <limits>

namespace eqnn {
namespace probe {
namespace {

/// FNV-1a, the same in every process (std::hash need not be).
uint64_t fnv1a(const std::string& text, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool has_per_sample(const ReportRow& row, int64_t samples) {
  return static_cast<int64_t>(row.per_sample.size()) == samples;
}

/// What every rank's rows must share: keys, per-element counts, which rows have per-sample values.
int64_t signature(const Report& r) {
  uint64_t h = fnv1a(std::to_string(r.transforms.size()));
  for (const ReportRow& row : r.rows)
    h = fnv1a(row.model + "|" + std::to_string(row.stage_index) + "|" + row.metric + "|" +
                  row.deviation + "|" + std::to_string(row.per_element.size()) + "|" +
                  (has_per_sample(row, r.samples) ? "s" : "-"),
              h);
  return static_cast<int64_t>(h & 0x7fffffffffffffffull);
}

}  // namespace

Report gather_shards(const Report& local, distributed::Communicator& communicator,
                     const UncertaintyOptions& uncertainty) {
  const int64_t world = communicator.world_size();
  const torch::Tensor header =
      torch::tensor({local.samples, static_cast<int64_t>(local.rows.size()), signature(local),
                     local.normalisation_samples},
                    torch::kLong);
  const std::vector<torch::Tensor> headers =
      communicator.all_gather(header, "gathering the probe's shard sizes");
  std::vector<int64_t> counts;
  int64_t total = 0, widest = 0;
  for (int64_t r = 0; r < world; ++r) {
    const auto h = headers[static_cast<size_t>(r)].accessor<int64_t, 1>();
    TORCH_CHECK(h[1] == header[1].item<int64_t>() && h[2] == header[2].item<int64_t>(),
                "eqnn::probe::gather_shards: rank ", r, " has ", h[1], " rows, rank ",
                communicator.rank(), " has ", local.rows.size(),
                (h[1] == header[1].item<int64_t>() ? " with other models, stages or metrics" : ""),
                ": every rank must probe the same model the same way");
    counts.push_back(h[0]);
    total += h[0];
    widest = std::max(widest, h[0]);
  }
  // per row: value, scale, scale_standard_error, normalised, per_element, per_sample (padded)
  int64_t length = 0;
  std::vector<int64_t> offsets;
  for (const ReportRow& row : local.rows) {
    offsets.push_back(length);
    length += 4 + static_cast<int64_t>(row.per_element.size()) +
              (has_per_sample(row, local.samples) ? widest : 0);
  }
  torch::Tensor packed =
      torch::full({length}, std::numeric_limits<double>::quiet_NaN(), torch::kDouble);
  double* p = packed.data_ptr<double>();
  for (size_t i = 0; i < local.rows.size(); ++i) {
    const ReportRow& row = local.rows[i];
    double* o = p + offsets[i];
    o[0] = row.value;
    o[1] = row.scale;
    o[2] = row.scale_standard_error;
    o[3] = row.normalised;
    std::copy(row.per_element.begin(), row.per_element.end(), o + 4);
    if (has_per_sample(row, local.samples))
      std::copy(row.per_sample.begin(), row.per_sample.end(), o + 4 + row.per_element.size());
  }
  const std::vector<torch::Tensor> all =
      communicator.all_gather(packed, "gathering the probe's shards");

  Report report = local;
  report.samples = total;
  report.normalisation_samples = headers[0][3].item<int64_t>();
  for (size_t i = 0; i < report.rows.size(); ++i) {
    ReportRow& row = report.rows[i];
    const bool per_sample = has_per_sample(local.rows[i], local.samples);
    const size_t n_elements = row.per_element.size();
    const double* first = all[0].data_ptr<double>() + offsets[i];
    std::vector<double> weighted(n_elements, 0.0);
    double value_sum = 0;
    row.per_sample.clear();
    for (int64_t r = 0; r < world; ++r) {
      const double* o = all[static_cast<size_t>(r)].data_ptr<double>() + offsets[i];
      const double weight = static_cast<double>(counts[static_cast<size_t>(r)]);
      value_sum += weight * o[0];
      for (size_t e = 0; e < n_elements; ++e)
        weighted[e] += weight * o[4 + e];
      if (per_sample)
        row.per_sample.insert(row.per_sample.end(), o + 4 + n_elements,
                              o + 4 + n_elements + counts[static_cast<size_t>(r)]);
    }
    for (size_t e = 0; e < n_elements; ++e)
      row.per_element[e] = weighted[e] / static_cast<double>(std::max<int64_t>(total, 1));
    if (per_sample && !std::isnan(row.value)) {
      double s = 0;
      for (double v : row.per_sample)
        s += v;
      row.value = s / static_cast<double>(std::max<int64_t>(total, 1));
    } else {
      row.value = value_sum / static_cast<double>(std::max<int64_t>(total, 1));
    }
    row.scale = first[1];
    row.scale_standard_error = first[2];
    row.normalised = std::isnan(first[3]) ? first[3] : row.value / row.scale;
    if (!per_sample) row.per_sample.clear();
  }
  for (auto& entry : report.provenance) {
    if (entry.second.count("samples")) entry.second["samples"] = std::to_string(total);
    entry.second["shards"] = std::to_string(world);
  }
  report.add_uncertainty(uncertainty);
  return report;
}

Report run_probe_sharded(const ProbedModel& model, const torch::Tensor& inputs,
                         const std::vector<Transform>& transforms, const ProbeOptions& options,
                         distributed::Communicator& communicator) {
  TORCH_CHECK(inputs.defined() && inputs.dim() == 4 && inputs.size(0) >= communicator.world_size(),
              "eqnn::probe::run_probe_sharded: expected a batch (B, C, H, W) of at least one "
              "sample per rank (",
              communicator.world_size(), "), got ",
              inputs.defined() ? inputs.sizes() : at::IntArrayRef{});
  TORCH_CHECK(
      !options.normalised || options.normalisation_samples > 0 || communicator.world_size() == 1,
      "eqnn::probe::run_probe_sharded: the normalisation over all pairs of samples "
      "(normalisation_samples = 0) crosses shards; give a number of samples");
  const auto [begin, end] =
      distributed::shard_range(inputs.size(0), communicator.world_size(), communicator.rank());
  ProbeOptions local = options;
  local.uncertainty.resamples = 0;  // recomputed from all samples
  Report shard = run_probe(model, inputs.narrow(0, begin, end - begin), transforms, local);
  const int64_t m = std::min(options.normalisation_samples, inputs.size(0));
  if (options.normalised && communicator.rank() == 0 && end - begin < m) {
    // the scales from the first m samples, as one process takes them
    ProbeOptions scales = local;
    scales.progress = nullptr;
    const Report first = run_probe(model, inputs.narrow(0, 0, m), transforms, scales);
    TORCH_CHECK(first.rows.size() == shard.rows.size(), "eqnn::probe::run_probe_sharded: model '",
                model.name, "' gave other rows for the normalisation samples");
    for (size_t i = 0; i < shard.rows.size(); ++i) {
      shard.rows[i].scale = first.rows[i].scale;
      shard.rows[i].scale_standard_error = first.rows[i].scale_standard_error;
      shard.rows[i].normalised = first.rows[i].normalised;
    }
    shard.normalisation_samples = first.normalisation_samples;
  }
  return gather_shards(shard, communicator, options.uncertainty);
}

Report lie_derivatives_sharded(const ProbedModel& model, const torch::Tensor& inputs,
                               const LieDerivativeOptions& options,
                               distributed::Communicator& communicator) {
  TORCH_CHECK(inputs.defined() && inputs.dim() == 4 && inputs.size(0) >= communicator.world_size(),
              "eqnn::probe::lie_derivatives_sharded: expected a batch (B, C, H, W) of at least "
              "one sample per rank (",
              communicator.world_size(), "), got ",
              inputs.defined() ? inputs.sizes() : at::IntArrayRef{});
  const auto [begin, end] =
      distributed::shard_range(inputs.size(0), communicator.world_size(), communicator.rank());
  LieDerivativeOptions local = options;
  local.uncertainty.resamples = 0;
  return gather_shards(lie_derivatives(model, inputs.narrow(0, begin, end - begin), local),
                       communicator, options.uncertainty);
}

}  // namespace probe
}  // namespace eqnn
