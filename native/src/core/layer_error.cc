// Quadratic-form traces for the per-layer relative output error (docs/algorithms.md §6).
#include "lowbit/layer_error.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/gemm.h"

namespace lowbit {

namespace {

/** Rows per block of the traces: the float64 working pair (Aᵀ block and A·H block) stays near 8 MiB,
 *  whatever the layer's height (issue 11: whole, the 32000×2048 LM head's pair was 1 GB). */
size_t TraceBlockRows(size_t cols) {
  constexpr size_t kBlockBytes = size_t(4) << 20;
  return std::max<size_t>(1, kBlockBytes / (sizeof(double) * cols));
}

/** Adds Σ_j (A H)[r][j]·A[r][j] of each row r of the m×n block `a` to *total, in row order. */
void AddRowTraces(const float* a, size_t m, size_t n, const double* h, int threads, std::vector<double>& at,
                  std::vector<double>& p, double* total) {
  at.resize(n * m);
  p.assign(m * n, 0.0);
  for (size_t r = 0; r < m; ++r)
    for (size_t j = 0; j < n; ++j) at[j * m + r] = a[r * n + j];
  GemmKMajor(m, n, n, 1.0, at.data(), m, h, n, p.data(), n, threads);
  for (size_t r = 0; r < m; ++r) {
    double s = 0.0;
    for (size_t j = 0; j < n; ++j) s += p[r * n + j] * a[r * n + j];
    *total += s;
  }
}

}  // namespace

double QuadraticTrace(const float* a, int rows, int cols, const double* h, int threads) {
  const size_t m = rows, n = cols, step = TraceBlockRows(n);
  std::vector<double> at, p;
  double total = 0.0;
  for (size_t r0 = 0; r0 < m; r0 += step) AddRowTraces(a + r0 * n, std::min(step, m - r0), n, h, threads, at, p, &total);
  return total;
}

Status RelativeError(const float* w, const float* what, int rows, int cols, const double* h, int threads, double* result) {
  const size_t m = rows, n = cols, step = TraceBlockRows(n);
  // Δ = W − Ŵ one row block at a time: never a whole-layer copy.
  std::vector<float> delta;
  std::vector<double> at, p;
  double num = 0.0;
  for (size_t r0 = 0; r0 < m; r0 += step) {
    const size_t mb = std::min(step, m - r0);
    delta.resize(mb * n);
    for (size_t i = 0; i < mb * n; ++i) delta[i] = w[r0 * n + i] - what[r0 * n + i];
    AddRowTraces(delta.data(), mb, n, h, threads, at, p, &num);
  }
  const double den = QuadraticTrace(w, rows, cols, h, threads);
  if (!std::isfinite(num) || !std::isfinite(den)) return Status::Error(Code::kNumeric, "relative error is not finite");
  *result = (den == 0.0) ? (num == 0.0 ? 0.0 : INFINITY) : num / den;
  return Status::Ok();
}

}  // namespace lowbit
