// Shared pieces of the binarization kernels: the closed-form binary fit, BiLLM's residual
// binarization, fp16 rounding of stored scales, and the GPTQ-style inverse-Hessian factor.
#include <cmath>
#include <cstring>
#include <string>

#include "lowbit/binarize.h"
#include "lowbit/cholesky.h"

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

Status HessianInverseFactor(const double* H, int n, double percdamp, std::vector<double>* U,
                            std::vector<uint8_t>* dead, int threads) {
  // Dead columns (zero diagonal) get a unit diagonal, as in the reference; damping is percdamp ×
  // mean(diag), retried ×10 while H is not positive definite. U (H⁻¹ = UᵀU, upper) comes from the
  // blocked factorization GPTQ uses (cholesky.h).
  std::vector<double> diag(n), dd(n);
  dead->assign(n, 0);
  double mean = 0;
  for (int j = 0; j < n; ++j) {
    diag[j] = H[(size_t)j * n + j];
    if (!std::isfinite(diag[j])) return Status::Error(Code::kNumeric, "Hessian has a non-finite diagonal at column " + std::to_string(j));
    if (diag[j] == 0) { diag[j] = 1; (*dead)[j] = 1; }
    mean += diag[j];
  }
  mean /= n;
  U->assign((size_t)n * n, 0.0);
  double damp = percdamp;
  for (int attempt = 0; attempt < 5; ++attempt, damp *= 10) {
    for (int j = 0; j < n; ++j) dd[j] = diag[j] + damp * mean;
    if (InverseCholeskyUpper(H, (size_t)n, dd.data(), U->data(), threads)) return Status::Ok();
  }
  return Status::Error(Code::kNumeric, "Hessian is not positive definite even with damp ×10⁴");
}

}  // namespace lowbit
