// Right-looking Cholesky and triangular inverse (row-major, contiguous inner loops, threaded over
// rows of the trailing update). InverseCholeskyUpper uses the reversal J (J_ij = δ_{i,n-1-j}):
// if JHJ = RᵀR then H⁻¹ = (J R⁻¹ᵀ J)ᵀ... precisely U = J (Rᵀ)⁻¹ J is upper with H⁻¹ = UᵀU, so one
// Cholesky plus one triangular inverse replace GPTQ's three factorizations (uniqueness of Cholesky).
#include "lowbit/cholesky.h"

#include <cmath>

#include "lowbit/parallel.h"

namespace lowbit {

bool CholeskyUpper(double* a, size_t n, int threads) {
  for (size_t k = 0; k < n; ++k) {
    double* rk = a + k * n;
    const double d = rk[k];
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    const double s = std::sqrt(d);
    rk[k] = s;
    const double inv = 1.0 / s;
    for (size_t j = k + 1; j < n; ++j) rk[j] *= inv;
    const size_t rem = n - k - 1;
    auto update = [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) {
        const size_t i = k + 1 + t;
        const double f = rk[i];
        double* ri = a + i * n;
        for (size_t j = i; j < n; ++j) ri[j] -= f * rk[j];
      }
    };
    if (rem * rem > 1u << 16) ParallelFor(rem, threads, 8, update); else update(0, rem);
  }
  for (size_t i = 1; i < n; ++i)
    for (size_t j = 0; j < i; ++j) a[i * n + j] = 0.0;
  return true;
}

void InvertUpper(double* r, size_t n, int threads) {
  // X = R⁻¹ row by row from the bottom: X_i = (e_i − Σ_{k>i} R_ik X_k) / R_ii, rows k>i final.
  std::vector<double> row(n);
  for (size_t ii = n; ii-- > 0;) {
    double* ri = r + ii * n;
    std::fill(row.begin() + ii, row.end(), 0.0);
    row[ii] = 1.0;
    const size_t span = n - ii;
    auto axpy = [&](size_t b, size_t e) {  // columns [ii+b, ii+e)
      for (size_t k = ii + 1; k < n; ++k) {
        const double f = ri[k];
        const double* xk = r + k * n;
        const size_t lo = std::max(ii + b, k), hi = ii + e;
        for (size_t j = lo; j < hi; ++j) row[j] -= f * xk[j];
      }
    };
    if (span * span > 1u << 18) ParallelFor(span, threads, 64, axpy); else axpy(0, span);
    const double inv = 1.0 / ri[ii];
    for (size_t j = ii; j < n; ++j) ri[j] = row[j] * inv;
  }
}

bool InverseCholeskyUpper(const double* h, size_t n, std::vector<double>* u, int threads) {
  std::vector<double> a(n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) a[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  if (!CholeskyUpper(a.data(), n, threads)) return false;
  InvertUpper(a.data(), n, threads);
  u->assign(n * n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i; j < n; ++j) {
      const double v = a[(n - 1 - j) * n + (n - 1 - i)];
      if (!std::isfinite(v)) return false;
      (*u)[i * n + j] = v;
    }
  return true;
}

}  // namespace lowbit
