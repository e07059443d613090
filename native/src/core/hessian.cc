// Running Hessian update (see hessian.h).
#include "lowbit/hessian.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "lowbit/gemm.h"
#include "lowbit/parallel.h"

namespace lowbit {

Status AccumulateHessian(double* h, size_t n, double* count, const float* x, size_t tokens, int threads) {
  if (n == 0) return Status::Error(Code::kShape, "Hessian size must be positive");
  if (tokens == 0) return Status::Ok();
  for (size_t i = 0; i < tokens * n; ++i) {
    if (!std::isfinite(x[i])) {
      return Status::Error(Code::kNumeric, "activation is not finite at token " + std::to_string(i / n) +
                                               ", channel " + std::to_string(i % n));
    }
  }
  // H ← keep·H + (2/N')·XᵀX with keep = N/N' folded into the GEMM (keep = 0 for a fresh H: H is then
  // written without being read, so fresh zero pages are not read-faulted before the write fault).
  const double prev = *count, next = prev + static_cast<double>(tokens);
  const double keep = prev > 0 ? prev / next : 0.0;
  GemmKMajorF32(n, n, tokens, 2.0 / next, x, n, x, n, h, n, threads, /*upper_only=*/true, keep);
  // Mirror the upper triangle in 8×8 tiles: each tile reads one line of 8 rows and writes one line of
  // 8 rows (wider tiles put more rows n·8 bytes apart in the same L1 set than it has ways). Block rows
  // are interleaved long/short so that contiguous thread chunks get equal work.
  constexpr size_t kT = 8;
  const size_t nbk = (n + kT - 1) / kT;
  ParallelFor(nbk, threads, 1, [&](size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) {
      const size_t i0 = (q % 2 == 0 ? q / 2 : nbk - 1 - q / 2) * kT, i1 = std::min(n, i0 + kT);
      for (size_t j0 = i0; j0 < n; j0 += kT) {
        const size_t j1 = std::min(n, j0 + kT);
        for (size_t i = i0; i < i1; ++i)
          for (size_t j = std::max(j0, i + 1); j < j1; ++j) h[j * n + i] = h[i * n + j];
      }
    }
  });
  *count = next;
  return Status::Ok();
}

}  // namespace lowbit
