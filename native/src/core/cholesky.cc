// Blocked right-looking Cholesky and blocked triangular inverse (row-major, fp64; with fp32_products
// the rank-kNb updates multiply fp32-rounded panels, summed in fp64), and the fp32-storage Cholesky of
// GPTQ's default solve (fp32 panels and trailing matrix, fp64 diagonal blocks). Only the kNb×kNb
// diagonal blocks are factored / inverted serially; the panel solve R12 = R11⁻ᵀA12 (through the
// explicit R11⁻¹), the trailing update and the inverse's block products all go through the GEMM,
// so results do not depend on the thread count. InvertUpper is right-looking too (rank-nb updates of
// the accumulators above the diagonal), so no step streams the whole finished inverse.
// InverseCholeskyUpper uses the reversal J (J_ij = δ_{i,n-1-j}): if JHJ = RᵀR then U = J (Rᵀ)⁻¹ J is
// upper with H⁻¹ = UᵀU, so one Cholesky plus one triangular inverse replace GPTQ's chol →
// cholesky_inverse → chol (Cholesky factors are unique); without the inverse the same steps give
// V = JRᵀJ = U⁻¹ (ReversedCholeskyUpperF32).
#include "lowbit/cholesky.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "lowbit/clones.h"
#include "lowbit/gemm.h"
#include "lowbit/parallel.h"
#include "lowbit/phase_timer.h"

namespace lowbit {
namespace {

constexpr size_t kNb = 128;

// Unblocked in-place inverse of a small upper-triangular block (row stride ld), bottom row first.
// The serial O(nb³) pieces are multiversioned so that their row loops run on AVX-512 / AVX2.
LOWBIT_CLONES
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

// rinv (nb×nb, row-major, strict lower triangle zero) = inverse of the upper-triangular block at d
// (row stride ld), which is left as it is.
void InvertDiagonalBlock(const double* d, size_t nb, size_t ld, std::vector<double>& rinv, std::vector<double>& row) {
  for (size_t i = 0; i < nb; ++i) {
    std::fill(rinv.begin() + i * nb, rinv.begin() + i * nb + i, 0.0);
    std::copy(d + i * ld + i, d + i * ld + nb, rinv.begin() + i * nb + i);
  }
  InvertUpperSmall(rinv.data(), nb, nb, row);
}

// Unblocked in-place upper Cholesky of a small block (row stride ld); false on a bad pivot.
LOWBIT_CLONES
bool FactorSmall(double* a, size_t nb, size_t ld) {
  for (size_t k = 0; k < nb; ++k) {
    double* rk = a + k * ld;
    const double d = rk[k];
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    const double s = std::sqrt(d);
    rk[k] = s;
    const double inv = 1.0 / s;
    for (size_t j = k + 1; j < nb; ++j) rk[j] *= inv;
    for (size_t i = k + 1; i < nb; ++i) {
      const double f = rk[i];
      double* ri = a + i * ld;
      for (size_t j = i; j < nb; ++j) ri[j] -= f * rk[j];
    }
  }
  return true;
}

// out[k*rows + i] = src[i*ld + k] for i < rows, k < cols, in groups of 8 rows so that every k writes
// 8 consecutive doubles (a plain column sweep writes one element per cache line).
void TransposeBlock(const double* src, size_t ld, size_t rows, size_t cols, double* out, int threads) {
  ParallelFor(rows, threads, 64, [&](size_t i0, size_t i1) {
    for (size_t ib = i0; ib < i1; ib += 8) {
      const size_t ie = std::min(i1, ib + 8);
      for (size_t k = 0; k < cols; ++k)
        for (size_t i = ib; i < ie; ++i) out[k * rows + i] = src[i * ld + k];
    }
  });
}

// out[i*cols + j] = float(src[i*ld + j]): an fp32 operand for GemmKMajorF32.
void ToFloat(const double* src, size_t ld, size_t rows, size_t cols, std::vector<float>& out, int threads) {
  if (out.size() < rows * cols) out.resize(rows * cols);
  float* const o = out.data();
  ParallelFor(rows, threads, 8, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i)
      for (size_t j = 0; j < cols; ++j) o[i * cols + j] = static_cast<float>(src[i * ld + j]);
  });
}

}  // namespace

bool CholeskyUpper(double* a, size_t n, int threads, bool fp32_products) {
  std::vector<double> row(kNb), rinv(kNb * kNb);
  std::vector<float> r32;
  for (size_t k0 = 0; k0 < n; k0 += kNb) {
    const size_t k1 = std::min(n, k0 + kNb), nb = k1 - k0, rem = n - k1;
    // Diagonal block R11 (unblocked, serial; O(nb³) per block).
    if (!FactorSmall(a + k0 * n + k0, nb, n)) return false;
    if (rem == 0) break;
    // R12 = R11⁻ᵀ·A12 as one GEMM: the k-major A operand of R11⁻ᵀ is R11⁻¹ stored row-major.
    InvertDiagonalBlock(a + k0 * n + k0, nb, n, rinv, row);
    // In place (B = C = A12, beta = 0): the GEMM packs its operands before writing C.
    GemmKMajor(nb, rem, nb, 1.0, rinv.data(), nb, a + k0 * n + k1, n, a + k0 * n + k1, n, threads, false, 0.0);
    // Trailing update A22 -= R12ᵀ R12 (upper part only); with fp32_products, R12 rounded to fp32 and
    // each element's nb ≤ 128 products summed in one fp32 FMA chain, then subtracted in fp64.
    if (fp32_products) {
      ToFloat(a + k0 * n + k1, n, nb, rem, r32, threads);
      GemmKMajorF32(rem, rem, nb, -1.0, r32.data(), rem, r32.data(), rem, a + k1 * n + k1, n, threads, true);
    } else {
      GemmKMajor(rem, rem, nb, -1.0, a + k0 * n + k1, n, a + k0 * n + k1, n, a + k1 * n + k1, n, threads, true);
    }
  }
  ParallelFor(n, threads, 64, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) std::fill(a + i * n, a + i * n + i, 0.0);
  });
  return true;
}

bool CholeskyUpperF32(float* a, size_t n, int threads) {
  std::vector<double> blk(kNb * kNb), row(kNb), rinv(kNb * kNb);
  std::vector<float> rinv32(kNb * kNb);
  for (size_t k0 = 0; k0 < n; k0 += kNb) {
    const size_t k1 = std::min(n, k0 + kNb), nb = k1 - k0, rem = n - k1;
    // Diagonal block R11 in fp64 (serial, O(nb³) per block), stored back rounded to fp32.
    for (size_t i = 0; i < nb; ++i)
      for (size_t j = i; j < nb; ++j) blk[i * nb + j] = a[(k0 + i) * n + k0 + j];
    if (!FactorSmall(blk.data(), nb, nb)) return false;
    for (size_t i = 0; i < nb; ++i)
      for (size_t j = i; j < nb; ++j) a[(k0 + i) * n + k0 + j] = static_cast<float>(blk[i * nb + j]);
    if (rem == 0) break;
    // R12 = R11⁻ᵀ·A12 (R11⁻¹ from the fp64 block, rounded), in place; then A22 −= R12ᵀR12, upper part.
    InvertDiagonalBlock(blk.data(), nb, nb, rinv, row);
    for (size_t i = 0; i < nb * nb; ++i) rinv32[i] = static_cast<float>(rinv[i]);
    GemmKMajorF32C32(nb, rem, nb, 1.0, rinv32.data(), nb, a + k0 * n + k1, n, a + k0 * n + k1, n, threads, 0.0);
    GemmKMajorF32C32(rem, rem, nb, -1.0, a + k0 * n + k1, n, a + k0 * n + k1, n, a + k1 * n + k1, n, threads, 1.0,
                     /*upper_only=*/true);
  }
  ParallelFor(n, threads, 64, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) std::fill(a + i * n, a + i * n + i, 0.0f);
  });
  return true;
}

void InvertUpper(double* r, size_t n, int threads, bool fp32_products) {
  // Right-looking sweep over block columns L (X = R⁻¹ row by row satisfies Σ_{I≤L≤J} X_IL R_LJ = 0):
  //   finalize  X_·L = −Acc_·L · R_LL⁻¹ (rows above L), X_LL = R_LL⁻¹;
  //   update    Acc_{·, J>L} += X_·L · R_{L, J>L}  (a rank-nb GEMM over rows ≤ L, columns > L).
  // Acc_IJ lives in place of R_IJ: row block L of R is read (copied) for the last time when its update
  // starts, and is then overwritten by the accumulators. Needs the strict lower triangle of r zero.
  if (n == 0) return;
  std::vector<double> row(kNb), rinv(kNb * kNb), tmp, at;
  std::vector<float> a32, b32;
  for (size_t k0 = 0; k0 < n; k0 += kNb) {
    const size_t k1 = std::min(n, k0 + kNb), nb = k1 - k0, rem = n - k1;
    InvertDiagonalBlock(r + k0 * n + k0, nb, n, rinv, row);
    if (k0 > 0) {  // finalize: k-major copy of Acc[0:k0, k0:k1] (at[k*k0 + i] = Acc[i][k0+k]), then GEMM
      at.resize(nb * k0);
      TransposeBlock(r + k0, n, k0, nb, at.data(), threads);
      GemmKMajor(k0, nb, nb, -1.0, at.data(), k0, rinv.data(), nb, r + k0, n, threads, false, 0.0);
    }
    for (size_t i = 0; i < nb; ++i) std::copy(rinv.begin() + i * nb + i, rinv.begin() + (i + 1) * nb, r + (k0 + i) * n + k0 + i);
    if (rem == 0) break;
    // update: A = X[0:k1, k0:k1] k-major (at[k*k1 + i] = X[i][k0+k]), B = R[k0:k1, k1:n] (copied, then
    // its place zeroed to start the accumulators of row block L).
    at.resize(nb * k1);
    TransposeBlock(r + k0, n, k1, nb, at.data(), threads);
    tmp.resize(nb * rem);
    ParallelFor(nb, threads, 8, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) {
        double* src = r + (k0 + i) * n + k1;
        std::copy(src, src + rem, tmp.begin() + i * rem);
        std::fill(src, src + rem, 0.0);
      }
    });
    if (fp32_products) {  // the rank-nb update (n³/6 of the inverse's flops) as fp32 products summed in fp64
      ToFloat(at.data(), k1, nb, k1, a32, threads);
      ToFloat(tmp.data(), rem, nb, rem, b32, threads);
      GemmKMajorF32(k1, rem, nb, 1.0, a32.data(), k1, b32.data(), rem, r + k1, n, threads);
    } else {
      GemmKMajor(k1, rem, nb, 1.0, at.data(), k1, tmp.data(), rem, r + k1, n, threads);
    }
  }
}

namespace {

// a = JHJ's upper triangle (the reversed copy of H, diagonal from diag when given), in a's type; the
// strict lower triangle is zeroed.
template <typename T>
void ReversedCopy(const double* h, size_t n, const double* diag, T* a, int threads) {
  ParallelFor(n, threads, 16, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      const double* src = h + (n - 1 - i) * n;
      T* dst = a + i * n;
      std::fill(dst, dst + i, T(0));
      for (size_t j = i; j < n; ++j) dst[j] = static_cast<T>(src[n - 1 - j]);
      if (diag) dst[i] = static_cast<T>(diag[n - 1 - i]);
    }
  });
}

// The anti-transpose X[i][j] = A[n-1-j][n-1-i] (an involution on the upper triangle), swapped in place;
// false if an element of the upper triangle is not finite. Swaps in 8×8 tile pairs: the partner of
// tile (rows i0.., cols j0..) is (rows n-j0-8.., cols n-i0-8..), 8 cache lines each. Each element pair
// is swapped by the row with i + j < n - 1 (its partner has i + j > n - 1), so threads never touch the
// same element; the pairs plus the anti-diagonal fixed points cover the upper triangle.
template <typename T>
bool AntiTranspose(T* a, size_t n, int threads) {
  constexpr size_t kT = 8;
  // Only tile rows with i0 ≤ (n − 1)/2 hold pairs, the first ones the most: unit u takes tile rows u
  // and nh − 1 − u, so that every unit has about the same work.
  const size_t nh = (n - 1) / 2 / kT + 1, units = (nh + 1) / 2;
  std::atomic<bool> finite{true};
  ParallelFor(units, threads, 1, [&](size_t b0, size_t b1) {
    bool bad = false;
    for (size_t t = 2 * b0; t < 2 * b1; ++t) {
      const size_t ib = t % 2 == 0 ? t / 2 : nh - 1 - t / 2;
      if (t % 2 == 1 && ib == t / 2) continue;  // the middle tile row of an odd count, done once
      const size_t i0 = ib * kT, i1 = std::min(n, i0 + kT);
      for (size_t j0 = i0; j0 < n && i0 + j0 <= n - 1; j0 += kT) {
        const size_t j1 = std::min(n, j0 + kT);
        if (j0 >= i1 && i1 + j1 - 2 < n - 1) {  // whole tile above the diagonal, every pair swapped here
          for (size_t i = i0; i < i1; ++i) {
            T* x = a + i * n;
            for (size_t j = j0; j < j1; ++j) {
              T& y = a[(n - 1 - j) * n + (n - 1 - i)];
              std::swap(x[j], y);
              bad |= !std::isfinite(x[j]) || !std::isfinite(y);
            }
          }
          continue;
        }
        for (size_t i = i0; i < i1; ++i)
          for (size_t j = std::max(i, j0); j < j1; ++j) {
            if (i + j < n - 1) {
              T& x = a[i * n + j];
              T& y = a[(n - 1 - j) * n + (n - 1 - i)];
              std::swap(x, y);
              bad |= !std::isfinite(x) || !std::isfinite(y);
            } else if (i + j == n - 1) {
              bad |= !std::isfinite(a[i * n + j]);
            }
          }
      }
    }
    if (bad) finite.store(false);
  });
  return finite.load();
}

}  // namespace

// JHJ = RᵀR (reversed copy of H with the diagonal override, then chol), R ← R⁻¹, then the
// anti-transpose X = J(Rᵀ)⁻¹J = U (H⁻¹ = UᵀU). Without the inverse the same steps give V = JRᵀJ = U⁻¹
// (H = VVᵀ): ReversedCholeskyUpperF32.
bool InverseCholeskyUpper(const double* h, size_t n, const double* diag, double* u, int threads, bool fp32_products) {
  if (n == 0) return true;
  PhaseTimer prof("inverse-cholesky");
  ReversedCopy(h, n, diag, u, threads);
  prof.Mark("copy");
  if (!CholeskyUpper(u, n, threads, fp32_products)) return false;
  prof.Mark("cholesky");
  InvertUpper(u, n, threads, fp32_products);
  prof.Mark("inverse");
  const bool finite = AntiTranspose(u, n, threads);
  prof.Mark("anti-transpose");
  return finite;
}

bool ReversedCholeskyUpperF32(const double* h, size_t n, const double* diag, float* v, int threads) {
  if (n == 0) return true;
  PhaseTimer prof("reversed-cholesky-fp32");
  ReversedCopy(h, n, diag, v, threads);
  prof.Mark("copy");
  if (!CholeskyUpperF32(v, n, threads)) return false;
  prof.Mark("cholesky");
  const bool finite = AntiTranspose(v, n, threads);
  prof.Mark("anti-transpose");
  return finite;
}

}  // namespace lowbit
