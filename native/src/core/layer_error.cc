// Quadratic-form traces for the per-layer relative output error (docs/algorithms.md §6).
#include "lowbit/layer_error.h"

#include <cmath>
#include <vector>

#include "lowbit/gemm.h"

namespace lowbit {

double QuadraticTrace(const float* a, int rows, int cols, const double* h, int threads) {
  const size_t m = rows, n = cols;
  std::vector<double> at(n * m), p(m * n, 0.0);
  for (size_t r = 0; r < m; ++r)
    for (size_t j = 0; j < n; ++j) at[j * m + r] = a[r * n + j];
  GemmKMajor(m, n, n, 1.0, at.data(), m, h, n, p.data(), n, threads);
  double total = 0.0;
  for (size_t r = 0; r < m; ++r) {
    double s = 0.0;
    for (size_t j = 0; j < n; ++j) s += p[r * n + j] * a[r * n + j];
    total += s;
  }
  return total;
}

Status RelativeError(const float* w, const float* what, int rows, int cols, const double* h, int threads, double* result) {
  const size_t len = static_cast<size_t>(rows) * cols;
  std::vector<float> delta(len);
  for (size_t i = 0; i < len; ++i) delta[i] = w[i] - what[i];
  const double num = QuadraticTrace(delta.data(), rows, cols, h, threads);
  const double den = QuadraticTrace(w, rows, cols, h, threads);
  if (!std::isfinite(num) || !std::isfinite(den)) return Status::Error(Code::kNumeric, "relative error is not finite");
  *result = (den == 0.0) ? (num == 0.0 ? 0.0 : INFINITY) : num / den;
  return Status::Ok();
}

}  // namespace lowbit
