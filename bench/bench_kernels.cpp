// eqnn's kernels against the ATen compositions they replace and against a memcpy of the same bytes,
// in the same iterations. Counters: `ratio` (ours / ATen), `vs_memcpy` (ours / a copy moving the
// bytes the kernel must read and write, into a freshly allocated output as the kernel's is),
// `GB/s` (those bytes over our time).
//
// Arguments: group (0 = C4, 1 = D4), channels_last (0/1). Batch 8, 16 fields, 32x32.
#include <torch/torch.h>

#include <cstring>

#include "bench_util.h"
#include "eqnn/eqnn.h"

namespace {

using eqnn_bench::device;
using eqnn_bench::group_arg;
using eqnn_bench::median;
using eqnn_bench::seconds_since;
using eqnn_bench::sync;

constexpr int64_t kBatch = 8, kFields = 16, kSize = 32;

/// Times ours, the ATen composition and a copy of `bytes` bytes, interleaved. The copy reads
/// bytes/2 and writes bytes/2 into a new tensor (allocated per call, like every kernel's output, so
/// first-touch page faults count on both sides): memcpy on the CPU, a device copy on a GPU.
void triple(benchmark::State& state, double bytes, const std::function<void()>& ours,
            const std::function<void()>& aten) {
  const torch::Tensor src = torch::ones({static_cast<int64_t>(bytes / 2)},
                                        torch::TensorOptions(torch::kByte).device(device()));
  const auto copy = [&] {
    torch::Tensor dst = torch::empty_like(src);
    if (src.is_cuda())
      dst.copy_(src);
    else
      std::memcpy(dst.data_ptr(), src.data_ptr(), static_cast<size_t>(src.numel()));
    benchmark::DoNotOptimize(dst.data_ptr());
  };
  ours();
  aten();
  copy();
  sync();
  std::vector<double> t_ours, t_aten, t_copy;
  const auto timed = [](const std::function<void()>& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    sync();
    return seconds_since(start);
  };
  for (auto _ : state) {
    t_ours.push_back(timed(ours));
    t_aten.push_back(timed(aten));
    t_copy.push_back(timed(copy));
    state.SetIterationTime(t_ours.back());
  }
  const double mo = median(t_ours), ma = median(t_aten), mc = median(t_copy);
  state.counters["ratio"] = mo / ma;
  state.counters["vs_memcpy"] = mo / mc;
  state.counters["GB/s"] = bytes / mo / 1e9;
  state.counters["ours_us"] = mo * 1e6;
  state.counters["aten_us"] = ma * 1e6;
}

torch::Tensor feature_map(const eqnn::Group& g, bool channels_last) {
  return torch::randn({kBatch, kFields * g.order(), kSize, kSize}, device())
      .contiguous(channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
}

void set_label(benchmark::State& state, const eqnn::Group& g, bool channels_last) {
  state.SetLabel(g.name() + (channels_last ? " NHWC" : " NCHW") +
                 (device().is_cuda() ? " " + device().str() : ""));
}

void BM_GroupPoolMax(benchmark::State& state) {
  const eqnn::Group g = group_arg(state.range(0));
  const bool cl = state.range(1) != 0;
  const torch::Tensor x = feature_map(g, cl);
  torch::NoGradGuard no_grad;
  const double bytes = x.numel() * 4.0 * (1.0 + 1.0 / g.order()) + x.numel() / g.order();
  triple(
      state, bytes,
      [&] { benchmark::DoNotOptimize(eqnn::ops::group_pool(x, g, eqnn::PoolMode::Max)); },
      [&] {
        benchmark::DoNotOptimize(
            x.view({kBatch, kFields, g.order(), kSize, kSize}).amax(2));  // values only
      });
  set_label(state, g, cl);
}

void BM_GroupPoolMean(benchmark::State& state) {
  const eqnn::Group g = group_arg(state.range(0));
  const bool cl = state.range(1) != 0;
  const torch::Tensor x = feature_map(g, cl);
  torch::NoGradGuard no_grad;
  const double bytes = x.numel() * 4.0 * (1.0 + 1.0 / g.order());
  triple(
      state, bytes,
      [&] { benchmark::DoNotOptimize(eqnn::ops::group_pool(x, g, eqnn::PoolMode::Mean)); },
      [&] {
        benchmark::DoNotOptimize(x.reshape({kBatch, kFields, g.order(), kSize, kSize}).mean(2));
      });
  set_label(state, g, cl);
}

void BM_GroupActionAllElements(benchmark::State& state) {
  const eqnn::Group g = group_arg(state.range(0));
  const bool cl = state.range(1) != 0;
  const torch::Tensor x = feature_map(g, cl);
  std::vector<int64_t> all(g.order());
  for (int64_t t = 0; t < g.order(); ++t)
    all[t] = t;
  torch::NoGradGuard no_grad;
  const double bytes = x.numel() * 4.0 * 2.0 * g.order();  // read x and write one copy per element
  triple(
      state, bytes,
      [&] {
        benchmark::DoNotOptimize(eqnn::ops::group_action(x, g, all, eqnn::FieldKind::Regular));
      },
      [&] {
        // the ATen composition: per element, permute the group axis, then rotate/flip the plane
        std::vector<torch::Tensor> copies;
        for (int64_t t = 0; t < g.order(); ++t) {
          torch::Tensor y = x.view({kBatch, kFields, g.order(), kSize, kSize})
                                .index_select(2, g.regular_permutation(t).to(x.device()));
          copies.push_back(g.act_on_plane(y, t).reshape(x.sizes()));
        }
        benchmark::DoNotOptimize(torch::cat(copies, 0));
      });
  set_label(state, g, cl);
}

void BM_ExpandFilter(benchmark::State& state) {
  const eqnn::Group g = group_arg(state.range(0));
  const torch::Tensor w = torch::randn({64, 64, g.order(), 3, 3}, device());
  torch::NoGradGuard no_grad;
  const double bytes = w.numel() * 4.0 * (1.0 + g.order());
  triple(
      state, bytes, [&] { benchmark::DoNotOptimize(eqnn::ops::expand_group_filter(w, g)); },
      [&] {
        std::vector<torch::Tensor> per_element;
        for (int64_t t = 0; t < g.order(); ++t) {
          std::vector<int64_t> src(g.order());
          for (int64_t s = 0; s < g.order(); ++s)
            src[s] = g.compose(g.inverse(t), s);
          per_element.push_back(
              g.act_on_plane(w.index_select(2, torch::tensor(src).to(w.device())), t));
        }
        benchmark::DoNotOptimize(torch::stack(per_element, 1).reshape({64 * g.order(), -1, 3, 3}));
      });
  state.SetLabel(g.name() + " 64x64 fields");
}

void kernel_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"group", "nhwc"});
  for (int64_t g : {0, 1})
    for (int64_t nhwc : {0, 1})
      b->Args({g, nhwc});
  b->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(0.2);
}

}  // namespace

BENCHMARK(BM_GroupPoolMax)->Apply(kernel_args);
BENCHMARK(BM_GroupPoolMean)->Apply(kernel_args);
BENCHMARK(BM_GroupActionAllElements)->Apply(kernel_args);
BENCHMARK(BM_ExpandFilter)
    ->ArgNames({"group"})
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.2);
