#include "eqnn/steerable_basis.h"

#include <c10/util/Exception.h>

#include <cmath>
#include <numeric>
#include <sstream>

namespace eqnn {
namespace {

/// Samples of a function (flattened k x k) that are this close to the span of the earlier ones,
/// relative to their norm, are treated as dependent.
constexpr double kDependent = 1e-6;

}  // namespace

SteerableBasis::SteerableBasis(SteerableBasisOptions options) : options_(options) {
  const int64_t k = options_.kernel_size();
  TORCH_CHECK(k >= 1, "eqnn::SteerableBasis: kernel_size must be >= 1, got ", k);
  TORCH_CHECK(options_.ring_width() > 0 && std::isfinite(options_.ring_width()),
              "eqnn::SteerableBasis: ring_width must be a positive number, got ",
              options_.ring_width());
  TORCH_CHECK(options_.max_frequency() >= -1,
              "eqnn::SteerableBasis: max_frequency must be >= 0, or -1 for no cap; got ",
              options_.max_frequency());
  // Rings reach the inscribed circle: further out only the corners have pixels, too few to carry
  // a harmonic without aliasing (a ring there changes its sampled energy by up to 75x under
  // rotation, against < 8% for the rings kept).
  const int64_t rings = (k - 1) / 2;
  std::vector<std::vector<double>> kept;  // orthonormalised samples of the kept functions
  for (int64_t ring = 0; ring <= rings; ++ring) {
    // The ring within a pixel of the inscribed circle has part of its Gaussian beyond it, where
    // pixels are sparse: measured, frequencies above 1 there cost 5-20% equivariance error under
    // 45-degree rotations (docs/equivariance_accuracy.md), so it keeps frequency <= 1.
    const bool outer = static_cast<double>(ring) > static_cast<double>(k - 1) / 2.0 - 1.0;
    int64_t top = static_cast<int64_t>(std::floor(M_PI * static_cast<double>(ring) / 2.0));
    if (outer) top = std::min<int64_t>(top, 1);
    if (options_.max_frequency() >= 0) top = std::min(top, options_.max_frequency());
    for (int64_t m = 0; m <= top; ++m) {
      for (const bool sine : {false, true}) {
        if (m == 0 && sine) continue;
        if (static_cast<int64_t>(kept.size()) == k * k) break;  // the grid is spanned
        const Function f{static_cast<double>(ring), m, sine, 1.0};
        const torch::Tensor s = sample_rotated(f, 0.0).flatten();
        std::vector<double> v(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
        const double norm = std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
        if (norm < 1e-12) continue;
        std::vector<double> residual = v;
        for (const auto& q : kept) {
          const double dot = std::inner_product(q.begin(), q.end(), v.begin(), 0.0);
          for (size_t e = 0; e < v.size(); ++e)
            residual[e] -= dot * q[e];
        }
        const double left =
            std::sqrt(std::inner_product(residual.begin(), residual.end(), residual.begin(), 0.0));
        if (left < kDependent * norm) continue;
        for (double& e : residual)
          e /= left;
        kept.push_back(std::move(residual));
        functions_.push_back({f.radius, m, sine, norm});
      }
    }
  }
  TORCH_INTERNAL_ASSERT(!functions_.empty(),
                        "eqnn::SteerableBasis: the centre ring is always kept");
}

torch::Tensor SteerableBasis::evaluate(int64_t b, const torch::Tensor& u,
                                       const torch::Tensor& v) const {
  TORCH_CHECK(b >= 0 && b < size(), "eqnn::SteerableBasis::evaluate: function ", b,
              " is out of range for a basis of ", size());
  TORCH_CHECK(u.sizes() == v.sizes(), "eqnn::SteerableBasis::evaluate: u and v must have one ",
              "shape, got ", u.sizes(), " and ", v.sizes());
  const Function& f = functions_[b];
  const torch::Tensor ud = u.to(torch::kDouble), vd = v.to(torch::kDouble);
  const torch::Tensor rho = torch::sqrt(ud * ud + vd * vd);
  const double sigma = options_.ring_width();
  torch::Tensor value = torch::exp(-(rho - f.radius).pow(2) / (2 * sigma * sigma));
  if (f.frequency > 0) {
    const torch::Tensor phi = torch::atan2(vd, ud) * static_cast<double>(f.frequency);
    value = value * (f.sine ? torch::sin(phi) : torch::cos(phi)) * (rho > 1e-12);
  }
  return value / f.norm;
}

torch::Tensor SteerableBasis::sample_rotated(const Function& f, double theta) const {
  const int64_t k = options_.kernel_size();
  const double centre = static_cast<double>(k - 1) / 2.0, sigma = options_.ring_width();
  torch::Tensor out = torch::empty({k, k}, torch::kDouble);
  double* o = out.data_ptr<double>();
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      const double u = static_cast<double>(i) - centre, v = static_cast<double>(j) - centre;
      const double rho = std::sqrt(u * u + v * v);
      double value = std::exp(-(rho - f.radius) * (rho - f.radius) / (2 * sigma * sigma));
      if (f.frequency > 0) {
        // psi(R_theta^-1 p): the angle of p minus theta
        const double angle = static_cast<double>(f.frequency) * (std::atan2(v, u) - theta);
        value = rho > 1e-12 ? value * (f.sine ? std::sin(angle) : std::cos(angle)) : 0.0;
      }
      o[i * k + j] = value;
    }
  }
  return out;
}

torch::Tensor SteerableBasis::sample(const Group& group) const {
  const int64_t n = group.rotations();
  // C_N's rotations on the grid: Q = gcd(N, 4) of them, one every N/Q steps; R^r with r = q N/Q +
  // r' is the grid rotation by 360 q / Q degrees after R^r'. Only the r' < N/Q are sampled.
  const int64_t grid_rotations = std::gcd(n, int64_t{4}), steps = n / grid_rotations;
  std::vector<torch::Tensor> unrotated;  // [r'] -> (nb, k, k)
  for (int64_t r = 0; r < steps; ++r) {
    std::vector<torch::Tensor> planes;
    for (const Function& f : functions_)
      planes.push_back(sample_rotated(f, 2 * M_PI * static_cast<double>(r) / n) / f.norm);
    unrotated.push_back(torch::stack(planes));
  }
  std::vector<torch::Tensor> elements;
  for (int64_t t = 0; t < group.order(); ++t) {
    const int64_t r = t % n, q = r / steps;
    // L_R f = rot90(f, 1) (conventions.md); the grid rotation by 360 q / Q is 4q/Q quarter turns
    torch::Tensor s = torch::rot90(unrotated[r % steps], (4 / grid_rotations) * q, {-2, -1});
    if (group.is_mirror(t)) s = torch::flip(s, {-2});  // L_M: rows upside down
    elements.push_back(s);
  }
  return torch::stack(elements).contiguous();
}

std::string SteerableBasis::describe() const {
  std::ostringstream os;
  int64_t top = 0;
  double last = 0;
  for (const Function& f : functions_) {
    top = std::max(top, f.frequency);
    last = std::max(last, f.radius);
  }
  os << size() << " functions (rings 0.." << static_cast<int64_t>(last) << ", max frequency " << top
     << ")";
  return os.str();
}

}  // namespace eqnn
