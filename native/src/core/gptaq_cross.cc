// GPTAQ cross statistic (see gptaq.h).
#include <cmath>
#include <memory>
#include <string>

#include "lowbit/gemm.h"
#include "lowbit/gptaq.h"
#include "lowbit/parallel.h"

namespace lowbit {

Status AccumulateCross(double* d, size_t n, double* count, const float* x_fp, const float* x_q, size_t tokens,
                       int threads) {
  if (n == 0) return Status::Error(Code::kShape, "cross statistic size must be positive");
  if (tokens == 0) return Status::Ok();
  for (size_t i = 0; i < tokens * n; ++i) {
    if (!std::isfinite(x_fp[i]) || !std::isfinite(x_q[i])) {
      return Status::Error(Code::kNumeric, std::string(std::isfinite(x_fp[i]) ? "quantized-prefix" : "float") +
                                               " activation is not finite at token " + std::to_string(i / n) +
                                               ", channel " + std::to_string(i % n));
    }
  }
  std::unique_ptr<float[]> dx(new float[tokens * n]);
  float* const dxp = dx.get();
  ParallelFor(tokens, threads, 16, [&](size_t t0, size_t t1) {
    for (size_t i = t0 * n; i < t1 * n; ++i) dxp[i] = x_fp[i] - x_q[i];
  });
  const double prev = *count, next = prev + static_cast<double>(tokens);
  const double keep = prev > 0 ? prev / next : 0.0;
  // C(a, b) = Σ_t A(a, t)·B(t, b) with A(a, t) = dx[t·n + a] (k-major) and B(t, b) = x̃[t·n + b].
  GemmKMajorF32(n, n, tokens, 2.0 / next, dxp, n, x_q, n, d, n, threads, /*upper_only=*/false, keep);
  *count = next;
  return Status::Ok();
}

}  // namespace lowbit
