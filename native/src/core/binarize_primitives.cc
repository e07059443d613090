// Shared pieces of the binarization kernels: the closed-form binary fit, BiLLM's residual
// binarization, fp16 rounding of stored scales, and the GPTQ-style inverse-Hessian factor.
#include <cmath>
#include <cstring>
#include <string>

#include "lowbit/binarize.h"
#include "lowbit/lowrank_parallel.h"

namespace lowbit {

float RoundToFp16(double v) {
  if (!std::isfinite(v)) return static_cast<float>(v);
  double a = std::fabs(v);
  if (a >= 65504.0) return static_cast<float>(std::copysign(65504.0, v));
  if (a < std::ldexp(1.0, -24) / 2) return static_cast<float>(std::copysign(0.0, v));
  int e;
  std::frexp(a, &e);                 // a = f·2^e, f ∈ [0.5, 1)
  int exp = std::max(e - 1, -14);    // fp16 normal exponent floor; subnormals share 2^-24 steps
  double ulp = std::ldexp(1.0, exp - 10);
  return static_cast<float>(std::copysign(std::nearbyint(a / ulp) * ulp, v));
}

BinParams FitBinary(const double* w, const uint8_t* mask, int n) {
  BinParams p;
  double sum = 0;
  int cnt = 0;
  for (int j = 0; j < n; ++j)
    if (!mask || mask[j]) { sum += w[j]; ++cnt; }
  if (cnt == 0) return p;
  p.mu = sum / cnt;
  double dev = 0;
  for (int j = 0; j < n; ++j)
    if (!mask || mask[j]) dev += std::fabs(w[j] - p.mu);
  p.alpha = dev / cnt;
  return p;
}

void BinarizeResidual(const double* w, const uint8_t* mask, int n, int order, bool fp16_scales,
                      double* out, BinParams* params) {
  std::vector<double> res(w, w + n), acc(n, 0.0);
  for (int o = 0; o < order; ++o) {
    BinParams p = FitBinary(res.data(), mask, n);
    if (fp16_scales) { p.alpha = RoundToFp16(p.alpha); p.mu = RoundToFp16(p.mu); }
    if (params) params[o] = p;
    for (int j = 0; j < n; ++j) {
      if (mask && !mask[j]) continue;
      double b = (res[j] - p.mu >= 0 ? p.alpha : -p.alpha) + p.mu;  // tie → +1
      acc[j] += b;
      res[j] -= b;
    }
  }
  for (int j = 0; j < n; ++j)
    if (!mask || mask[j]) out[j] = acc[j];
}

// In-place lower Cholesky of a (n×n); returns false if not positive definite.
static bool CholeskyLower(std::vector<double>& a, int n) {
  for (int j = 0; j < n; ++j) {
    double d = a[(size_t)j * n + j];
    for (int k = 0; k < j; ++k) d -= a[(size_t)j * n + k] * a[(size_t)j * n + k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    a[(size_t)j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double s = a[(size_t)i * n + j];
      const double* ri = &a[(size_t)i * n];
      const double* rj = &a[(size_t)j * n];
      for (int k = 0; k < j; ++k) s -= ri[k] * rj[k];
      a[(size_t)i * n + j] = s / d;
    }
    for (int k = j + 1; k < n; ++k) a[(size_t)j * n + k] = 0;
  }
  return true;
}

Status HessianInverseFactor(const double* H, int n, double percdamp, std::vector<double>* U,
                            std::vector<uint8_t>* dead, int threads) {
  std::vector<double> h(H, H + (size_t)n * n);
  dead->assign(n, 0);
  double mean = 0;
  for (int j = 0; j < n; ++j) {
    if (!std::isfinite(h[(size_t)j * n + j])) return Status::Error(Code::kNumeric, "Hessian has a non-finite diagonal at column " + std::to_string(j));
    if (h[(size_t)j * n + j] == 0) { h[(size_t)j * n + j] = 1; (*dead)[j] = 1; }
    mean += h[(size_t)j * n + j];
  }
  mean /= n;
  double damp = percdamp;
  for (int attempt = 0; attempt < 5; ++attempt, damp *= 10) {
    // With P the reversal permutation and P·H·P = L·Lᵀ (lower Cholesky), H⁻¹ = UᵀU for the upper
    // triangular U = P·L⁻¹·P — the same factor as torch's cholesky(cholesky_inverse(chol(H)),
    // upper=True), in one factorization and one triangular inverse.
    std::vector<double> a((size_t)n * n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) a[(size_t)i * n + j] = h[(size_t)(n - 1 - i) * n + (n - 1 - j)];
    for (int j = 0; j < n; ++j) a[(size_t)j * n + j] += damp * mean;
    if (!CholeskyLower(a, n)) continue;
    // lt[j*n + k] = L⁻¹[k][j]: column j of L⁻¹, contiguous.
    std::vector<double> lt((size_t)n * n, 0.0);
    ParallelRows((size_t)n, threads, [&](size_t b, size_t e) {
      for (size_t j = b; j < e; ++j) {
        double* col = &lt[j * n];
        col[j] = 1.0 / a[j * n + j];
        for (int i = (int)j + 1; i < n; ++i) {
          const double* ai = &a[(size_t)i * n];
          double s = 0;
          for (int k = (int)j; k < i; ++k) s -= ai[k] * col[k];
          col[i] = s / ai[i];
        }
      }
    });
    U->assign((size_t)n * n, 0.0);
    for (int i = 0; i < n; ++i)
      for (int j = i; j < n; ++j)  // U[i][j] = L⁻¹[n−1−i][n−1−j]
        (*U)[(size_t)i * n + j] = lt[(size_t)(n - 1 - j) * n + (n - 1 - i)];
    return Status::Ok();
  }
  return Status::Error(Code::kNumeric, "Hessian is not positive definite even with damp ×10⁴");
}

}  // namespace lowbit
