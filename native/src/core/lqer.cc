// LQER / L²QER (arXiv 2402.02446, docs/algorithms.md §5b): SVD of the activation-scaled error.
// The paper factors S·Eᵀ (in×out); we factor its transpose E·S (out×in) = U Σ Vᵀ, which gives the
// same factors: L = U_k Σ_k (out×k), R = V_kᵀ S⁻¹ (k×in), W ≈ Q(W) + L·R. S = diag(act_mean),
// identity when absent (plain SVD). Entries of act_mean ≤ 1e-6·max are clamped there.
#include <algorithm>
#include <cmath>
#include <string>

#include "lowbit/lowrank.h"
#include "lowbit/lowrank_internal.h"
#include "lowbit/svd.h"

namespace lowbit {

Status Lqer(const float* w, int rows, int cols, const double* H, const float* act_mean,
            const LowRankBaselineOptions& opt, const JobControl& ctl, LowRankResult* out) {
  if (rows <= 0 || cols <= 0) return Status::Error(Code::kShape, "lqer: empty weight");
  if (opt.bits < 2 || opt.bits > 8) return Status::Error(Code::kArg, "lqer: bits must be in 2..8");
  const size_t mn = (size_t)rows * cols;
  std::vector<double> W(w, w + mn), S(cols, 1.0);
  if (act_mean) {
    double mx = 0;
    for (int c = 0; c < cols; ++c) mx = std::max(mx, (double)std::fabs(act_mean[c]));
    if (mx > 0) for (int c = 0; c < cols; ++c) S[c] = std::max((double)std::fabs(act_mean[c]), 1e-6 * mx);
  }
  LowRankResult res;
  Status qst = QuantizeResidual(W.data(), rows, cols, opt.bits, opt.group_size, opt.clip_search, opt.quantizer, H, ctl, &res.q);
  if (!qst.ok()) return Status::Error(qst.code, "lqer: " + qst.message);
  std::vector<double> E(mn);
  for (size_t i = 0; i < mn; ++i) E[i] = (W[i] - res.q.dequant[i]) * S[i % cols];
  std::vector<double> s, vt, us;
  Status st = Svd(E.data(), rows, cols, ctl, nullptr, &s, &vt, &us);
  if (!st.ok()) return Status::Error(st.code, "lqer: " + st.message);
  const int k = (int)s.size(), r = std::max(0, std::min(opt.rank, k));
  res.rank = r;
  res.L.assign((size_t)rows * r, 0.0);
  res.R.assign((size_t)r * cols, 0.0);
  for (int i = 0; i < r; ++i) {
    for (int x = 0; x < rows; ++x) res.L[(size_t)x * r + i] = us[(size_t)x * k + i];
    for (int c = 0; c < cols; ++c) res.R[(size_t)i * cols + c] = vt[(size_t)i * cols + c] / S[c];
  }
  FinishSvdBaseline(opt, s, W, H, ctl.threads, &res);
  *out = std::move(res);
  return Status::Ok();
}

}  // namespace lowbit
