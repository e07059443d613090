// AdaRound, layer-wise (docs/algorithms.md, AdaRound section). Soft weights on the fixed grid:
//   h = clip(σ(V)(ζ − γ) + γ, 0, 1),  x = ⌊W/s⌋ + h + z,  Ŵ = s·(clamp(x, 0, maxq) − z),  Δ = W − Ŵ,
//   L = ½·tr(ΔHΔᵀ) + λ·Σ(1 − |2h − 1|^β).
// Hand-derived gradient: ∂L/∂Ŵ = −ΔH;  ∂Ŵ/∂h = s where 0 ≤ x ≤ maxq;  ∂h/∂V = (ζ − γ)σ(1 − σ) where
// 0 ≤ σ(ζ − γ) + γ ≤ 1;  ∂reg/∂h = −2λβ·|2h − 1|^(β−1)·sign(2h − 1). Adam (torch defaults) on V.
#include "lowbit/adaround.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "lowbit/gemm.h"
#include "lowbit/parallel.h"
#include "lowbit/quant_grid.h"

namespace lowbit {
namespace {

struct Cell {
  double s, z, fl;
};

inline Cell CellOf(const float* w, int cols, const AdaRoundGrid& grid, int ng, size_t j) {
  const size_t r = j / cols, c = j % cols;
  const size_t i = r * ng + c / grid.group_size;
  const double s = grid.scales[i];
  return {s, double(grid.zeros[i]), std::floor(w[j] / s)};
}

inline double Sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

Status CheckGrid(const float* w, int rows, int cols, const double* h, const AdaRoundGrid& grid) {
  Status st = CheckWeight(w, rows, cols, grid.bits, grid.group_size);
  if (!st.ok()) return st;
  if (grid.group_size <= 0 || grid.group_size > cols)
    return Status::Error(Code::kArg, "group size must be in 1.." + std::to_string(cols) + ", got " + std::to_string(grid.group_size));
  const int ng = (cols + grid.group_size - 1) / grid.group_size, maxq = (1 << grid.bits) - 1;
  for (size_t i = 0; i < size_t(rows) * ng; ++i) {
    if (!(grid.scales[i] > 0.0f) || !std::isfinite(grid.scales[i]))
      return Status::Error(Code::kNumeric, "scale of row " + std::to_string(i / ng) + ", group " + std::to_string(i % ng) +
                                               " is not a finite positive number");
    if (grid.zeros[i] > maxq)
      return Status::Error(Code::kArg, "zero point of row " + std::to_string(i / ng) + ", group " + std::to_string(i % ng) +
                                           " exceeds " + std::to_string(maxq));
  }
  for (size_t i = 0; i < size_t(cols) * cols; ++i)
    if (!std::isfinite(h[i]))
      return Status::Error(Code::kNumeric, "H is not finite at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols));
  return Status::Ok();
}

// Σ_rc (ΔH)_rc Δ_rc for Δ given transposed (dT: cols × rows); G receives ΔH (rows × cols).
double Quadratic(const std::vector<double>& dT, int rows, int cols, const double* h, int threads, std::vector<double>* g) {
  GemmKMajor(rows, cols, cols, 1.0, dT.data(), rows, h, cols, g->data(), cols, threads, false, 0.0);
  std::vector<double> row(rows);
  ParallelFor(rows, threads, 16, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      double acc = 0.0;
      for (int c = 0; c < cols; ++c) acc += (*g)[r * cols + c] * dT[size_t(c) * rows + r];
      row[r] = acc;
    }
  });
  double total = 0.0;
  for (double v : row) total += v;
  return total;
}

// Δ (transposed) of the hard rounding code(j) = clamp(fl + up + z, 0, maxq).
template <typename Up>
void HardDelta(const float* w, int rows, int cols, const AdaRoundGrid& grid, Up up, std::vector<double>* dT,
               OutputVector<uint8_t>* codes, OutputVector<float>* dequant) {
  const int ng = (cols + grid.group_size - 1) / grid.group_size, maxq = (1 << grid.bits) - 1;
  for (size_t j = 0; j < size_t(rows) * cols; ++j) {
    const Cell c = CellOf(w, cols, grid, ng, j);
    const double code = std::clamp(c.fl + up(j) + c.z, 0.0, double(maxq));
    const float dq = static_cast<float>(c.s * (code - c.z));
    if (codes) (*codes)[j] = static_cast<uint8_t>(code), (*dequant)[j] = dq;
    (*dT)[(j % cols) * rows + j / cols] = double(w[j]) - dq;
  }
}

}  // namespace

double AdaRoundBeta(const AdaRoundSpec& spec, int t) {
  const double start = spec.warmup * spec.iterations;
  if (t < start) return spec.beta_start;
  const double rel = spec.iterations > start ? (t - start) / (spec.iterations - start) : 1.0;
  return spec.beta_end + (spec.beta_start - spec.beta_end) * std::max(0.0, 1.0 - rel);
}

void AdaRoundInit(const float* w, int rows, int cols, const AdaRoundGrid& grid, const AdaRoundSpec& spec,
                  std::vector<double>* v) {
  const int ng = (cols + grid.group_size - 1) / grid.group_size;
  v->assign(size_t(rows) * cols, 0.0);
  for (size_t j = 0; j < v->size(); ++j) {
    const Cell c = CellOf(w, cols, grid, ng, j);
    const double rest = w[j] / c.s - c.fl;  // in [0, 1)
    (*v)[j] = -std::log((spec.zeta - spec.gamma) / (rest - spec.gamma) - 1.0);
  }
}

Status AdaRoundLossGrad(const float* w, int rows, int cols, const double* h, const AdaRoundGrid& grid,
                        const AdaRoundSpec& spec, const double* v, double beta, bool with_reg, int threads, double* rec,
                        double* reg, double* grad) {
  const int ng = (cols + grid.group_size - 1) / grid.group_size, maxq = (1 << grid.bits) - 1;
  const size_t n = size_t(rows) * cols;
  const double span = spec.zeta - spec.gamma;
  std::vector<double> dT(n), g(n), dwdv(n), dreg(n), regs(rows);
  ParallelFor(rows, threads, 16, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      double rs = 0.0;
      for (int col = 0; col < cols; ++col) {
        const size_t j = r * cols + col;
        const Cell c = CellOf(w, cols, grid, ng, j);
        const double sg = Sigmoid(v[j]), raw = sg * span + spec.gamma;
        const double hh = std::clamp(raw, 0.0, 1.0);
        const double x = c.fl + hh + c.z;
        const double what = c.s * (std::clamp(x, 0.0, double(maxq)) - c.z);
        dT[size_t(col) * rows + r] = double(w[j]) - what;
        const double dh = (raw >= 0.0 && raw <= 1.0) ? span * sg * (1.0 - sg) : 0.0;
        dwdv[j] = (x >= 0.0 && x <= maxq) ? c.s * dh : 0.0;
        if (with_reg) {
          const double u = 2.0 * hh - 1.0, au = std::fabs(u);
          rs += 1.0 - std::pow(au, beta);
          const double sgn = u > 0 ? 1.0 : (u < 0 ? -1.0 : 0.0);
          dreg[j] = -spec.lambda * beta * 2.0 * (au > 0 ? std::pow(au, beta - 1.0) : 0.0) * sgn * dh;
        } else {
          dreg[j] = 0.0;
        }
      }
      regs[r] = rs;
    }
  });
  *rec = 0.5 * Quadratic(dT, rows, cols, h, threads, &g);
  double rsum = 0.0;
  for (double x : regs) rsum += x;
  *reg = with_reg ? spec.lambda * rsum : 0.0;
  if (grad) {
    ParallelFor(rows, threads, 16, [&](size_t r0, size_t r1) {
      for (size_t j = r0 * cols; j < r1 * cols; ++j) grad[j] = -g[j] * dwdv[j] + dreg[j];
    });
  }
  return Status::Ok();
}

Status QuantizeAdaRound(const float* w, int rows, int cols, const double* h, const AdaRoundGrid& grid,
                        const AdaRoundSpec& spec, const JobControl& ctl, QuantizedWeight* out, AdaRoundStats* stats) {
  Status st = CheckGrid(w, rows, cols, h, grid);
  if (!st.ok()) return st;
  if (spec.iterations < 0) return Status::Error(Code::kArg, "iterations must be >= 0");
  if (!(spec.lambda >= 0.0) || !(spec.lr >= 0.0) || !(spec.warmup >= 0.0 && spec.warmup <= 1.0) || !(spec.beta_end > 0.0) ||
      !(spec.beta_start >= spec.beta_end))
    return Status::Error(Code::kArg, "need lambda >= 0, lr >= 0, warmup in [0, 1] and beta_start >= beta_end > 0");
  const size_t n = size_t(rows) * cols;
  std::vector<double> v, m(n, 0.0), s2(n, 0.0), grad(n);
  AdaRoundInit(w, rows, cols, grid, spec, &v);
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const int reg_start = static_cast<int>(std::ceil(spec.warmup * spec.iterations));
  for (int t = 0; t < spec.iterations; ++t) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "AdaRound cancelled");
    double rec = 0.0, reg = 0.0;
    st = AdaRoundLossGrad(w, rows, cols, h, grid, spec, v.data(), AdaRoundBeta(spec, t), t >= reg_start, ctl.threads, &rec, &reg,
                          grad.data());
    if (!st.ok()) return st;
    const double bc1 = 1.0 - std::pow(b1, t + 1), bc2 = 1.0 - std::pow(b2, t + 1);
    ParallelFor(rows, ctl.threads, 16, [&](size_t r0, size_t r1) {
      for (size_t j = r0 * cols; j < r1 * cols; ++j) {
        m[j] = b1 * m[j] + (1 - b1) * grad[j];
        s2[j] = b2 * s2[j] + (1 - b2) * grad[j] * grad[j];
        v[j] -= spec.lr / bc1 * m[j] / (std::sqrt(s2[j]) / std::sqrt(bc2) + eps);
      }
    });
    if ((t & 15) == 15) ctl.report(t + 1, spec.iterations);
  }
  out->Allocate(rows, cols, grid.bits, grid.group_size, false, ctl.threads);
  const int ng = out->num_groups(), maxq = (1 << grid.bits) - 1;
  std::copy(grid.scales, grid.scales + size_t(rows) * ng, out->scales.begin());
  std::copy(grid.zeros, grid.zeros + size_t(rows) * ng, out->zeros.begin());
  std::vector<double> dT(n), g(n);
  // Round-to-nearest on the same grid, for the loss it is compared with and the flip count.
  OutputVector<uint8_t> nearest(n);
  OutputVector<float> nearest_dq(n);
  HardDelta(w, rows, cols, grid, [&](size_t j) {
    const Cell c = CellOf(w, cols, grid, ng, j);
    return double(QuantizeValue(w[j], c.s, int(c.z), maxq)) - c.z - c.fl;  // the nearest code, as an offset
  }, &dT, &nearest, &nearest_dq);
  stats->loss_nearest = Quadratic(dT, rows, cols, h, ctl.threads, &g);
  HardDelta(w, rows, cols, grid, [&](size_t j) { return v[j] >= 0.0 ? 1.0 : 0.0; }, &dT, &out->codes, &out->dequant);
  stats->loss = Quadratic(dT, rows, cols, h, ctl.threads, &g);
  stats->flips = 0;
  for (size_t j = 0; j < n; ++j) stats->flips += out->codes[j] != nearest[j];
  stats->iterations = spec.iterations;
  ctl.report(spec.iterations, spec.iterations);
  return Status::Ok();
}

}  // namespace lowbit
