// LoRC (ZeroQuant-V2, docs/algorithms.md §5b): SVD of the quantization error E = W − Q(W);
// L = U_r Σ_r^½, R = Σ_r^½ V_rᵀ, optionally int8 fake-quantized per rank component.
#include <algorithm>
#include <cmath>
#include <string>

#include "lowbit/lowrank.h"
#include "lowbit/lowrank_internal.h"
#include "lowbit/svd.h"

namespace lowbit {

Status Lorc(const float* w, int rows, int cols, const double* H, const LowRankBaselineOptions& opt,
            const JobControl& ctl, LowRankResult* out) {
  if (rows <= 0 || cols <= 0) return Status::Error(Code::kShape, "lorc: empty weight");
  if (opt.bits < 2 || opt.bits > 8) return Status::Error(Code::kArg, "lorc: bits must be in 2..8");
  const size_t mn = (size_t)rows * cols;
  std::vector<double> W(w, w + mn);
  LowRankResult res;
  Status qst = QuantizeResidual(W.data(), rows, cols, opt.bits, opt.group_size, opt.clip_search, opt.quantizer, H, ctl, &res.q);
  if (!qst.ok()) return Status::Error(qst.code, "lorc: " + qst.message);
  std::vector<double> E(mn);
  for (size_t i = 0; i < mn; ++i) E[i] = W[i] - res.q.dequant[i];
  std::vector<double> u, s, vt;
  Status st = Svd(E.data(), rows, cols, ctl, &u, &s, &vt, nullptr);
  if (!st.ok()) return Status::Error(st.code, "lorc: " + st.message);
  const int k = (int)s.size(), r = std::max(0, std::min(opt.rank, k));
  res.rank = r;
  res.L.assign((size_t)rows * r, 0.0);
  res.R.assign((size_t)r * cols, 0.0);
  for (int i = 0; i < r; ++i) {
    const double h = std::sqrt(s[i]);
    for (int x = 0; x < rows; ++x) res.L[(size_t)x * r + i] = u[(size_t)x * k + i] * h;
    for (int c = 0; c < cols; ++c) res.R[(size_t)i * cols + c] = vt[(size_t)i * cols + c] * h;
  }
  FinishSvdBaseline(opt, s, W, H, ctl.threads, &res);
  *out = std::move(res);
  return Status::Ok();
}

}  // namespace lowbit
