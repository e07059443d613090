// HQQ (docs/algorithms.md, HQQ section): per group a fixed min-max scale s and a zero point z;
// alternate W_e = shrink_lp(W − s(Q − z), β, p) and z = mean(Q − (W − W_e)/s), β ← κβ, while the
// global error mean|W − Ŵ| keeps falling (mobiusml/hqq optimize_weights_proximal, v2 early stop).
#include "lowbit/hqq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "lowbit/parallel.h"
#include "lowbit/quant_grid.h"

namespace lowbit {

double ShrinkLp(double x, double beta, double p) {
  const double a = std::fabs(x);
  const double t = p == 1.0 ? 1.0 / beta : std::pow(a, p - 1.0) / beta;  // a = 0 → t = ∞ → 0
  const double m = a - t > 0.0 ? a - t : 0.0;
  return x < 0 ? -m : (x > 0 ? m : 0.0);
}

namespace {

inline int HqqCode(double w, double s, double z, int maxq) {
  double q = std::nearbyint(w / s + z);
  return static_cast<int>(std::clamp(q, 0.0, static_cast<double>(maxq)));
}

struct Layout {
  const float* w;
  int rows, cols, g, ng, maxq;
};

// Σ |w − s(q − z)| over one group.
double GroupError(const Layout& L, size_t r, int gi, double s, double z) {
  const int c0 = gi * L.g, len = std::min(L.g, L.cols - c0);
  const float* src = L.w + r * L.cols + c0;
  double e = 0.0;
  for (int k = 0; k < len; ++k) e += std::fabs(src[k] - s * (HqqCode(src[k], s, z, L.maxq) - z));
  return e;
}

// mean |W − Ŵ| over the layer, rows summed in a fixed order (thread-count independent).
double LayerError(const Layout& L, const std::vector<float>& s, const std::vector<double>& z, int threads,
                  std::vector<double>* row_err) {
  ParallelFor(L.rows, threads, 16, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      double e = 0.0;
      for (int gi = 0; gi < L.ng; ++gi) e += GroupError(L, r, gi, s[r * L.ng + gi], z[r * L.ng + gi]);
      (*row_err)[r] = e;
    }
  });
  double total = 0.0;
  for (double e : *row_err) total += e;
  return total / (static_cast<double>(L.rows) * L.cols);
}

}  // namespace

Status QuantizeHqq(const float* w, int rows, int cols, const HqqSpec& spec, const JobControl& ctl, HqqWeight* out,
                   HqqStats* stats) {
  Status st = CheckWeight(w, rows, cols, spec.bits, spec.group_size);
  if (!st.ok()) return st;
  if (spec.iterations < 0) return Status::Error(Code::kArg, "iterations must be >= 0");
  if (!(spec.lp_norm > 0.0 && spec.lp_norm <= 1.0)) return Status::Error(Code::kArg, "lp norm must be in (0, 1]");
  if (!(spec.beta > 0.0) || !std::isfinite(spec.beta)) return Status::Error(Code::kArg, "beta must be a finite number > 0");
  if (!(spec.kappa >= 1.0) || !std::isfinite(spec.kappa)) return Status::Error(Code::kArg, "kappa must be a finite number >= 1");
  const int g = EffectiveGroup(spec.group_size, cols);
  QuantizedWeight& q = out->q;
  q.Allocate(rows, cols, spec.bits, g, false, ctl.threads);
  const int ng = q.num_groups(), maxq = (1 << spec.bits) - 1;
  const Layout L{w, rows, cols, g, ng, maxq};
  const size_t np = static_cast<size_t>(rows) * ng;
  std::vector<float> s(np);
  std::vector<double> z(np), z_init(np);
  // Start: the group's own min-max (not forced to contain 0), as hqq Quantizer.quantize does.
  ParallelFor(rows, ctl.threads, 16, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r)
      for (int gi = 0; gi < ng; ++gi) {
        const int c0 = gi * g, len = std::min(g, cols - c0);
        const float* src = w + r * cols + c0;
        double lo = src[0], hi = src[0];
        for (int k = 1; k < len; ++k) lo = std::min(lo, double(src[k])), hi = std::max(hi, double(src[k]));
        const size_t i = r * ng + gi;
        if (spec.integer_zero) {
          // Storable start: RTN's asymmetric grid (range containing 0, integer zero in [0, maxq]).
          const GridParams p = FindParams(src, len, 1, GridSpec{spec.bits, false, false});
          s[i] = p.scale;
          z[i] = z_init[i] = p.zero;
          continue;
        }
        const double denom = hi - lo;
        double inv = std::fabs(denom) <= 1e-4 ? 1.0 : maxq / denom;
        inv = std::min(inv, 2e4);
        s[i] = static_cast<float>(1.0 / inv);
        z[i] = z_init[i] = -lo / s[i];
      }
  });
  std::vector<double> row_err(rows), z_best = z;
  stats->objective.clear();
  double best = std::numeric_limits<double>::infinity(), beta = spec.beta;
  for (int it = 0; it <= spec.iterations; ++it) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "HQQ cancelled");
    const double err = LayerError(L, s, z, ctl.threads, &row_err);
    if (!(best - err > 0.0)) break;  // stopped improving: keep the best zero points
    best = err;
    z_best = z;
    stats->objective.push_back(err);
    ctl.report(it + 1, spec.iterations + 1);
    if (it == spec.iterations) break;
    ParallelFor(rows, ctl.threads, 16, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r)
        for (int gi = 0; gi < ng; ++gi) {
          const int c0 = gi * g, len = std::min(g, cols - c0);
          const float* src = w + r * cols + c0;
          const size_t i = r * ng + gi;
          const double si = s[i], zi = z[i];
          double acc = 0.0;
          for (int k = 0; k < len; ++k) {
            const int c = HqqCode(src[k], si, zi, maxq);
            const double we = ShrinkLp(src[k] - si * (c - zi), beta, spec.lp_norm);
            acc += c - (src[k] - we) / si;
          }
          z[i] = acc / len;
        }
    });
    beta *= spec.kappa;
  }
  stats->iterations = static_cast<int>(stats->objective.size()) - 1;
  stats->initial = stats->objective.front();
  z = z_best;
  if (spec.integer_zero) {
    // Storable zero points: per group the best of {start, ⌊z⌋, ⌈z⌉} (clamped) under the same error,
    // so no group, and hence not the layer, ends worse than its min-max start.
    ParallelFor(rows, ctl.threads, 16, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r)
        for (int gi = 0; gi < ng; ++gi) {
          const size_t i = r * ng + gi;
          double pick = z_init[i], pick_err = GroupError(L, r, gi, s[i], pick);
          for (double c : {std::floor(z[i]), std::ceil(z[i])}) {
            c = std::clamp(c, 0.0, double(maxq));
            const double e = GroupError(L, r, gi, s[i], c);
            if (e < pick_err) pick = c, pick_err = e;
          }
          z[i] = pick;
        }
    });
  }
  out->zero_points.assign(np, 0.0f);
  ParallelFor(rows, ctl.threads, 16, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r)
      for (int gi = 0; gi < ng; ++gi) {
        const size_t i = r * ng + gi;
        const int c0 = gi * g, len = std::min(g, cols - c0);
        q.scales[i] = s[i];
        out->zero_points[i] = static_cast<float>(z[i]);
        q.zeros[i] = spec.integer_zero ? static_cast<uint8_t>(z[i]) : 0;
        // Float zero points are stored as fp32: codes and dequant use that value.
        const double zi = spec.integer_zero ? z[i] : double(out->zero_points[i]);
        for (int k = 0; k < len; ++k) {
          const size_t j = r * cols + c0 + k;
          const int c = HqqCode(w[j], s[i], zi, maxq);
          q.codes[j] = static_cast<uint8_t>(c);
          q.dequant[j] = static_cast<float>(static_cast<double>(s[i]) * (c - zi));
        }
      }
  });
  double total = 0.0;
  for (size_t j = 0; j < size_t(rows) * cols; ++j) total += std::fabs(double(w[j]) - q.dequant[j]);
  stats->final_objective = total / (static_cast<double>(rows) * cols);
  return Status::Ok();
}

}  // namespace lowbit
