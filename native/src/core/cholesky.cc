// Blocked right-looking Cholesky and blocked triangular inverse (row-major, fp64). Panels of kNb rows
// are processed with contiguous vectorizable loops; the O(n³) trailing work goes through GemmKMajor,
// so results do not depend on the thread count. InverseCholeskyUpper uses the reversal J
// (J_ij = δ_{i,n-1-j}): if JHJ = RᵀR then U = J (Rᵀ)⁻¹ J is upper with H⁻¹ = UᵀU, so one Cholesky plus
// one triangular inverse replace GPTQ's chol → cholesky_inverse → chol (Cholesky factors are unique).
#include "lowbit/cholesky.h"

#include <algorithm>
#include <cmath>

#include "lowbit/gemm.h"
#include "lowbit/parallel.h"

namespace lowbit {
namespace {

constexpr size_t kNb = 128;
constexpr size_t kInvChunk = 512;

// Unblocked in-place inverse of a small upper-triangular block (row stride ld), bottom row first.
void InvertUpperSmall(double* r, size_t nb, size_t ld, std::vector<double>& row) {
  for (size_t ii = nb; ii-- > 0;) {
    double* ri = r + ii * ld;
    std::fill(row.begin(), row.begin() + nb, 0.0);
    row[ii] = 1.0;
    for (size_t k = ii + 1; k < nb; ++k) {
      const double f = ri[k];
      const double* xk = r + k * ld;
      for (size_t j = k; j < nb; ++j) row[j] -= f * xk[j];
    }
    const double inv = 1.0 / ri[ii];
    for (size_t j = ii; j < nb; ++j) ri[j] = row[j] * inv;
  }
}

}  // namespace

bool CholeskyUpper(double* a, size_t n, int threads) {
  for (size_t k0 = 0; k0 < n; k0 += kNb) {
    const size_t k1 = std::min(n, k0 + kNb);
    // Panel rows [k0, k1), diagonal block first (serial) ...
    for (size_t k = k0; k < k1; ++k) {
      double* rk = a + k * n;
      const double d = rk[k];
      if (!(d > 0.0) || !std::isfinite(d)) return false;
      const double s = std::sqrt(d);
      rk[k] = s;
      const double inv = 1.0 / s;
      for (size_t j = k + 1; j < k1; ++j) rk[j] *= inv;
      for (size_t i = k + 1; i < k1; ++i) {
        const double f = rk[i];
        double* ri = a + i * n;
        for (size_t j = i; j < k1; ++j) ri[j] -= f * rk[j];
      }
    }
    // ... then columns [k1, n) of the panel rows, column chunks in parallel. Every element sees the
    // same operations in the same order as the unsplit row sweep, so results are unchanged.
    if (k1 < n) {
      ParallelFor(n - k1, threads, kNb, [&](size_t b, size_t e) {
        for (size_t jb = k1 + b; jb < k1 + e; jb += 256) {
          const size_t je = std::min(k1 + e, jb + 256);
          for (size_t k = k0; k < k1; ++k) {
            double* rk = a + k * n;
            const double inv = 1.0 / rk[k];
            for (size_t j = jb; j < je; ++j) rk[j] *= inv;
            for (size_t i = k + 1; i < k1; ++i) {
              const double f = rk[i];
              double* ri = a + i * n;
              for (size_t j = jb; j < je; ++j) ri[j] -= f * rk[j];
            }
          }
        }
      });
    }
    // Trailing update A22 -= R12ᵀ R12 (upper part only).
    if (k1 < n) {
      const size_t rem = n - k1;
      GemmKMajor(rem, rem, k1 - k0, -1.0, a + k0 * n + k1, n, a + k0 * n + k1, n, a + k1 * n + k1, n, threads, true);
    }
  }
  for (size_t i = 1; i < n; ++i)
    for (size_t j = 0; j < i; ++j) a[i * n + j] = 0.0;
  return true;
}

void InvertUpper(double* r, size_t n, int threads) {
  // Block rows from the bottom: X_II = R_II⁻¹, X_I,J = −X_II · (R_I,J · X_J,J) for the finished
  // trailing block X_J,J (rows/cols ≥ k1). Needs the strict lower triangle of r to be zero.
  std::vector<double> row(kNb), panel, t, tt, xii;
  const size_t last = (n - 1) / kNb * kNb;
  for (size_t k0 = last;; k0 -= kNb) {
    const size_t k1 = std::min(n, k0 + kNb), nb = k1 - k0, rem = n - k1;
    InvertUpperSmall(r + k0 * n + k0, nb, n, row);
    if (rem > 0) {
      panel.assign(rem * nb, 0.0);  // k-major copy of R[k0:k1, k1:n]: panel[k*nb + i] = R[k0+i][k1+k]
      for (size_t i = 0; i < nb; ++i)
        for (size_t k = 0; k < rem; ++k) panel[k * nb + i] = r[(k0 + i) * n + k1 + k];
      // T = P·X_J,J computed as Tᵀ = X_J,Jᵀ·Pᵀ: X_J,J (row-major) is already the k-major A operand and
      // the copy P is the B operand, so no strided copy of X_J,J is packed per thread. X_J,J is upper
      // triangular, so rows [i0, i1) of Tᵀ only need k in [0, i1); the KC blocking of k still starts at
      // 0, so every element sums the same products in the same order as the full product.
      tt.assign(rem * nb, 0.0);
      for (size_t i0 = 0; i0 < rem; i0 += kInvChunk) {
        const size_t ie = std::min(rem, i0 + kInvChunk);
        GemmKMajor(ie - i0, nb, ie, 1.0, r + k1 * n + k1 + i0, n, panel.data(), nb, tt.data() + i0 * nb, nb, threads);
      }
      t.resize(nb * rem);
      for (size_t i = 0; i < rem; ++i)
        for (size_t j = 0; j < nb; ++j) t[j * rem + i] = tt[i * nb + j];
      xii.assign(nb * nb, 0.0);  // k-major copy of X_II: xii[k*nb + i] = X[k0+i][k0+k]
      for (size_t i = 0; i < nb; ++i)
        for (size_t k = i; k < nb; ++k) xii[k * nb + i] = r[(k0 + i) * n + k0 + k];
      for (size_t i = 0; i < nb; ++i) std::fill(r + (k0 + i) * n + k1, r + (k0 + i) * n + n, 0.0);
      GemmKMajor(nb, rem, nb, -1.0, xii.data(), nb, t.data(), rem, r + k0 * n + k1, n, threads);
    }
    if (k0 == 0) break;
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
