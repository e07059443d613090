// Scale / clip searches for AWQ and OS+ (see scale_search.h).
#include "lowbit/scale_search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "lowbit/layer_error.h"
#include "lowbit/parallel.h"

namespace lowbit {

Status ScaleSearch(const float* w, int rows, int cols, const double* h, const double* cand, int k,
                   int group_size, const GridSpec& grid, const JobControl& ctl, ScaleSearchResult* out) {
  Status st = CheckWeight(w, rows, cols, grid.bits, group_size);
  if (!st.ok()) return st;
  if (k <= 0) return Status::Error(Code::kArg, "scale search needs at least one candidate");
  const size_t m = rows, n = cols;
  for (size_t i = 0; i < static_cast<size_t>(k) * n; ++i) {
    if (!(cand[i] > 0) || !std::isfinite(cand[i])) {
      return Status::Error(Code::kNumeric, "scale candidate " + std::to_string(i / n) + " is not a positive finite number at column " + std::to_string(i % n));
    }
  }
  std::vector<float> scaled(m * n), delta(m * n);
  QuantizedWeight q;
  JobControl inner = ctl;
  inner.progress = nullptr;
  out->losses.assign(k, 0.0);
  out->best = 0;
  double best = std::numeric_limits<double>::infinity();
  for (int c = 0; c < k; ++c) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "scale search cancelled at candidate " + std::to_string(c));
    const double* s = cand + static_cast<size_t>(c) * n;
    for (size_t r = 0; r < m; ++r)
      for (size_t j = 0; j < n; ++j) scaled[r * n + j] = static_cast<float>(w[r * n + j] * s[j]);
    st = QuantizeRtn(scaled.data(), rows, cols, group_size, grid, inner, &q);
    if (!st.ok()) return st;
    for (size_t r = 0; r < m; ++r)
      for (size_t j = 0; j < n; ++j) delta[r * n + j] = static_cast<float>(w[r * n + j] - q.dequant[r * n + j] / s[j]);
    const double loss = QuadraticTrace(delta.data(), rows, cols, h, ctl.threads);
    out->losses[c] = loss;
    if (loss < best) { best = loss; out->best = c; }
    ctl.report(c + 1, k);
  }
  return Status::Ok();
}

Status ClipSearch(const float* w, int rows, int cols, const double* h, int group_size, const GridSpec& grid,
                  int steps, const JobControl& ctl, std::vector<float>* ratios, QuantizedWeight* q) {
  Status st = CheckWeight(w, rows, cols, grid.bits, group_size);
  if (!st.ok()) return st;
  if (steps < 1) return Status::Error(Code::kArg, "clip search needs at least one step");
  const int g = EffectiveGroup(group_size, cols), ng = (cols + g - 1) / g, maxq = (1 << grid.bits) - 1;
  const size_t n = cols;
  ratios->assign(static_cast<size_t>(rows) * ng, 1.0f);
  std::vector<float> clamped(w, w + static_cast<size_t>(rows) * n);
  ParallelFor(rows, ctl.threads, 4, [&](size_t r0, size_t r1) {
    std::vector<float> tmp(g);
    std::vector<double> d(g);
    for (size_t r = r0; r < r1; ++r) {
      if (ctl.cancelled()) return;
      for (int gi = 0; gi < ng; ++gi) {
        const size_t c0 = static_cast<size_t>(gi) * g, len = std::min<size_t>(g, n - c0);
        const float* src = w + r * n + c0;
        double m0 = 0;
        for (size_t t = 0; t < len; ++t) m0 = std::max(m0, std::fabs(static_cast<double>(src[t])));
        double best = std::numeric_limits<double>::infinity();
        for (int i = 0; i < steps; ++i) {
          const double ratio = 1.0 - i / 20.0, mv = m0 * ratio;
          for (size_t t = 0; t < len; ++t) tmp[t] = static_cast<float>(std::clamp(static_cast<double>(src[t]), -mv, mv));
          GridParams p = FindParams(tmp.data(), len, 1, grid);
          for (size_t t = 0; t < len; ++t) d[t] = src[t] - static_cast<double>(p.scale) * (QuantizeValue(tmp[t], p.scale, p.zero, maxq) - p.zero);
          double err = 0;
          for (size_t a = 0; a < len; ++a) {
            double row = 0;
            for (size_t b = 0; b < len; ++b) row += h[(c0 + a) * n + c0 + b] * d[b];
            err += d[a] * row;
          }
          if (err < best) {
            best = err;
            (*ratios)[r * ng + gi] = static_cast<float>(ratio);
            for (size_t t = 0; t < len; ++t) clamped[r * n + c0 + t] = tmp[t];
          }
        }
      }
    }
  });
  if (ctl.cancelled()) return Status::Error(Code::kCancelled, "clip search cancelled");
  JobControl inner = ctl;
  inner.progress = nullptr;
  return QuantizeRtn(clamped.data(), rows, cols, group_size, grid, inner, q);
}

}  // namespace lowbit
