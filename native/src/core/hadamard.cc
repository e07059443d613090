// Fast Walsh–Hadamard transform over the power-of-two factor of each row (see lowbit/hadamard.h).
#include "lowbit/hadamard.h"

#include <string>

#include "lowbit/parallel.h"

namespace lowbit {

Status FwhtRows(double* v, size_t rows, size_t p, size_t m, int threads) {
  if (p == 0 || (p & (p - 1)) != 0) return Status::Error(Code::kArg, "p must be a power of two, got " + std::to_string(p));
  if (m == 0) return Status::Error(Code::kArg, "m must be positive");
  const size_t n = p * m;
  ParallelFor(rows, threads, 1, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      double* x = v + r * n;
      for (size_t len = 1; len < p; len <<= 1) {
        for (size_t i = 0; i < p; i += len << 1) {
          for (size_t j = i; j < i + len; ++j) {
            double* a = x + j * m;
            double* c = x + (j + len) * m;
            for (size_t b = 0; b < m; ++b) {
              const double s = a[b], d = c[b];
              a[b] = s + d;
              c[b] = s - d;
            }
          }
        }
      }
    }
  });
  return Status::Ok();
}

}  // namespace lowbit
