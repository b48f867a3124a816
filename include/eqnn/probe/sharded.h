/// \file
/// Probes across processes (docs/metrics.md, section 9): each rank measures a contiguous shard of
/// the samples and the shards' rows are put together into the report of all samples, the same
/// report one process would write (per-sample values are exchanged exactly, in float64).
#pragma once

#include <vector>

#include "eqnn/distributed/communicator.h"
#include "eqnn/probe/lie_derivative.h"
#include "eqnn/probe/probe.h"

namespace eqnn {
namespace probe {

/// The report of all samples from every rank's report `local` of its shard (shards in rank order
/// are the samples in order; every rank calls this with rows of the same models, stages, metrics
/// and deviations). Per-sample values are concatenated and each value recomputed as their mean;
/// per-element values (and values without per-sample ones) are averaged weighted by the shards'
/// sample counts; the normalisation scales are rank 0's; the intervals are recomputed with
/// `uncertainty` (so they equal a single process's). Every rank returns the same report. Throws,
/// naming the ranks, when their rows differ.
Report gather_shards(const Report& local, distributed::Communicator& communicator,
                     const UncertaintyOptions& uncertainty = {});

/// run_probe across the communicator's ranks: every rank passes all of `inputs`, probes its
/// shard (distributed::shard_range) and gathers. Equal to run_probe of all samples in one process
/// up to the order of float64 sums and to what a different chunking changes in the model's own
/// arithmetic (tests: 1e-12 relative for a float64 model). The normalisation scales come from the
/// first options.normalisation_samples samples of `inputs`, as in one process: rank 0 probes
/// them once more where its shard is smaller. normalisation_samples = 0 (all pairs, across
/// shards) is refused.
Report run_probe_sharded(const ProbedModel& model, const torch::Tensor& inputs,
                         const std::vector<Transform>& transforms, const ProbeOptions& options,
                         distributed::Communicator& communicator);

/// lie_derivatives across the communicator's ranks, in the same way (per-sample values, exact).
Report lie_derivatives_sharded(const ProbedModel& model, const torch::Tensor& inputs,
                               const LieDerivativeOptions& options,
                               distributed::Communicator& communicator);

}  // namespace probe
}  // namespace eqnn
