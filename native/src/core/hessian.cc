// Running Hessian update (see hessian.h).
#include "lowbit/hessian.h"

#include <cmath>
#include <string>
#include <vector>

#include "lowbit/gemm.h"

namespace lowbit {

Status AccumulateHessian(double* h, size_t n, double* count, const float* x, size_t tokens, int threads) {
  if (n == 0) return Status::Error(Code::kShape, "Hessian size must be positive");
  if (tokens == 0) return Status::Ok();
  std::vector<double> xd(tokens * n);
  for (size_t i = 0; i < tokens * n; ++i) {
    if (!std::isfinite(x[i])) {
      return Status::Error(Code::kNumeric, "activation is not finite at token " + std::to_string(i / n) +
                                               ", channel " + std::to_string(i % n));
    }
    xd[i] = x[i];
  }
  const double prev = *count, next = prev + static_cast<double>(tokens);
  if (prev > 0) {
    const double keep = prev / next;
    for (size_t i = 0; i < n * n; ++i) h[i] *= keep;
  }
  GemmKMajor(n, n, tokens, 2.0 / next, xd.data(), n, xd.data(), n, h, n, threads, /*upper_only=*/true);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) h[j * n + i] = h[i * n + j];
  *count = next;
  return Status::Ok();
}

}  // namespace lowbit
