// JSQ's range term and output error (see lowbit/jsq.h). Rows are independent: parallel over rows,
// each row's result summed in a fixed order, so results do not depend on the thread count.
#include "lowbit/jsq.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "lowbit/parallel.h"

namespace lowbit {

Status JsqRangeTerm(const float* w, int rows, int cols, const double* xbar, int T, const JobControl& ctl, double* out) {
  if (rows <= 0 || cols <= 0 || T < 0) return Status::Error(Code::kShape, "jsqRangeTerm: rows, cols must be > 0 and T ≥ 0");
  ParallelFor(size_t(rows), ctl.threads, 4, [&](size_t r0, size_t r1) {
    std::vector<double> y(static_cast<size_t>(T)), hi(static_cast<size_t>(cols)), lo(static_cast<size_t>(cols));
    for (size_t i = r0; i < r1; ++i) {
      if (ctl.cancelled()) return;
      const float* wi = w + i * size_t(cols);
      for (int t = 0; t < T; ++t) {
        const double* xt = xbar + size_t(t) * cols;
        double acc = 0;
        for (int j = 0; j < cols; ++j) acc += xt[j] * double(wi[j]);
        y[size_t(t)] = acc;
      }
      std::fill(hi.begin(), hi.end(), -std::numeric_limits<double>::infinity());
      std::fill(lo.begin(), lo.end(), std::numeric_limits<double>::infinity());
      for (int t = 0; t < T; ++t) {
        const double* xt = xbar + size_t(t) * cols;
        const double yt = y[size_t(t)];
        for (int j = 0; j < cols; ++j) {
          const double v = yt - xt[j] * double(wi[j]);
          hi[size_t(j)] = std::max(hi[size_t(j)], v);
          lo[size_t(j)] = std::min(lo[size_t(j)], v);
        }
      }
      double* oi = out + i * size_t(cols);
      for (int j = 0; j < cols; ++j) oi[j] = T > 0 ? hi[size_t(j)] - lo[size_t(j)] : 0.0;
    }
  });
  if (ctl.cancelled()) return Status::Error(Code::kCancelled, "jsqRangeTerm cancelled");
  return Status::Ok();
}

Status JsqOutputError(const double* y, const double* xq, const float* wq, int T, int rows, int cols, const JobControl& ctl,
                      double* err) {
  if (rows <= 0 || cols <= 0 || T < 0) return Status::Error(Code::kShape, "jsqOutputError: rows, cols must be > 0 and T ≥ 0");
  std::vector<double> per_row(size_t(rows), 0.0);
  ParallelFor(size_t(rows), ctl.threads, 4, [&](size_t r0, size_t r1) {
    for (size_t i = r0; i < r1; ++i) {
      if (ctl.cancelled()) return;
      const float* wi = wq + i * size_t(cols);
      double e = 0;
      for (int t = 0; t < T; ++t) {
        const double* xt = xq + size_t(t) * cols;
        double b = 0;
        for (int j = 0; j < cols; ++j) b += xt[j] * double(wi[j]);
        const double d = y[size_t(t) * rows + i] - b;
        e += d * d;
      }
      per_row[i] = e;
    }
  });
  if (ctl.cancelled()) return Status::Error(Code::kCancelled, "jsqOutputError cancelled");
  double s = 0;
  for (double v : per_row) s += v;
  *err = s;
  return Status::Ok();
}

}  // namespace lowbit
