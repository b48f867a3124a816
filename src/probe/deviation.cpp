#include "eqnn/probe/deviation.h"

#include <algorithm>
#include <cctype>

namespace eqnn {
namespace probe {

const char* to_string(Deviation deviation) {
  switch (deviation) {
    case Deviation::Cosine: return "cosine";
    case Deviation::Euclidean: return "euclidean";
    case Deviation::KL: return "kl";
  }
  return "?";
}

Deviation deviation_from_name(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (key == "cosine") return Deviation::Cosine;
  if (key == "euclidean") return Deviation::Euclidean;
  if (key == "kl") return Deviation::KL;
  TORCH_CHECK(false, "eqnn::probe: unknown deviation '", name, "'; expected cosine, euclidean or kl");
}

torch::Tensor deviation(const torch::Tensor& a_in, const torch::Tensor& b_in, Deviation kind) {
  TORCH_CHECK(a_in.sizes() == b_in.sizes(), "eqnn::probe::deviation: shapes differ: ", a_in.sizes(),
              " vs ", b_in.sizes());
  const int64_t n = a_in.size(0);
  const torch::Tensor a = a_in.reshape({n, -1}).to(torch::kDouble);
  const torch::Tensor b = b_in.reshape({n, -1}).to(torch::kDouble);
  switch (kind) {
    case Deviation::Cosine: {
      const torch::Tensor norms = (a.norm(2, 1) * b.norm(2, 1)).clamp_min(1e-8);
      return 1.0 - (a * b).sum(1) / norms;
    }
    case Deviation::Euclidean: return (a - b).norm(2, 1);
    case Deviation::KL: {
      // 0 log 0 = 0: terms with a_k = 0 contribute nothing
      const torch::Tensor log_a = torch::where(a > 0, a.log(), torch::zeros_like(a));
      return (a * (log_a - b.clamp_min(1e-12).log())).sum(1);
    }
  }
  return torch::Tensor();
}

std::pair<double, int64_t> mean_pairwise_deviation(const torch::Tensor& f, Deviation kind) {
  const int64_t n = f.size(0);
  if (n < 2) return {0.0, 0};
  double sum = 0;
  // shift k pairs row i with row (i + k) mod n: every ordered pair i != j once over k = 1..n-1
  for (int64_t k = 1; k < n; ++k) {
    sum += deviation(f, torch::roll(f, {-k}, {0}), kind).sum().item<double>();
  }
  return {sum / static_cast<double>(n * (n - 1)), n * (n - 1)};
}

}  // namespace probe
}  // namespace eqnn
