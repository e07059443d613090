// PB-LLM (hahnyuan/PB-LLM gptq_pb, docs/algorithms.md §4b): a fraction `low_frac` of each group's
// least salient entries is binarized (xnor: μ = row-mean(W⊙mask), α = row-mean|W⊙mask − μ|, zeros
// at salient positions included — the reference quirk), the rest is `high_bits`-bit (the reference's
// HighQuantizer, 8 by default) asymmetric per row; a
// GPTQ loop with full intra-block feedback picks q = mask ? q_bin : q_8bit column by column.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "lowbit/binarize.h"
#include "lowbit/lowrank_parallel.h"

namespace lowbit {

Status Pbllm(const float* w, int rows, int cols, const double* H, const PbllmOptions& opt,
             const JobControl& ctl, PbllmResult* out) {
  if (rows <= 0 || cols <= 0) return Status::Error(Code::kShape, "pbllm: empty weight");
  if (!(opt.low_frac >= 0 && opt.low_frac <= 1)) return Status::Error(Code::kArg, "pbllm: low_frac must be in [0, 1]");
  if (opt.high_bits < 2 || opt.high_bits > 8) return Status::Error(Code::kArg, "pbllm: high_bits must be in 2..8");
  const double levels = (double)((1 << opt.high_bits) - 1);
  const size_t mn = (size_t)rows * cols;
  for (size_t i = 0; i < mn; ++i)
    if (!std::isfinite(w[i])) return Status::Error(Code::kNumeric, "pbllm: non-finite weight at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols));
  std::vector<double> U;
  std::vector<uint8_t> dead;
  Status st = HessianInverseFactor(H, cols, opt.percdamp, &U, &dead, ctl.threads);
  if (!st.ok()) return Status::Error(st.code, "pbllm: " + st.message);
  std::vector<double> W(w, w + mn);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) if (dead[c]) W[(size_t)r * cols + c] = 0;

  const int g = opt.group_size <= 0 || opt.group_size > cols ? cols : opt.group_size;
  const int ng = (cols + g - 1) / g, B = std::max(1, opt.block);
  PbllmResult res;
  res.dequant.assign(mn, 0.f);
  res.mask.assign(mn, 0);
  res.bin_params.assign((size_t)rows * ng * 2, 0.f);
  res.q8_params.assign((size_t)rows * ng * 2, 0.f);
  size_t nbin = 0;

  // Mask + parameters of group gi from the current global W (as GPTQ's group find_params).
  auto setup_group = [&](int gi) {
    const int c0 = gi * g, c1 = std::min(cols, c0 + g), len = c1 - c0;
    std::vector<double> sal((size_t)rows * len);
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < len; ++j) {
        double v = W[(size_t)r * cols + c0 + j], d = U[(size_t)(c0 + j) * cols + c0 + j];
        sal[(size_t)r * len + j] = opt.hessian_saliency ? v * v / (d * d) : std::fabs(v);
      }
    std::vector<size_t> idx(sal.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return sal[a] < sal[b]; });
    const size_t nlow = (size_t)std::llround(opt.low_frac * (double)sal.size());
    for (size_t t = 0; t < nlow; ++t) {
      size_t r = idx[t] / len, j = idx[t] % len;
      res.mask[r * cols + c0 + j] = 1;
    }
    nbin += nlow;
    for (int r = 0; r < rows; ++r) {
      const double* wr = &W[(size_t)r * cols + c0];
      const uint8_t* mr = &res.mask[(size_t)r * cols + c0];
      double mu = 0, alpha = 0, lo = 0, hi = 0;
      for (int j = 0; j < len; ++j) { mu += mr[j] ? wr[j] : 0; lo = std::min(lo, wr[j]); hi = std::max(hi, wr[j]); }
      mu /= len;
      for (int j = 0; j < len; ++j) alpha += std::fabs((mr[j] ? wr[j] : 0) - mu);
      alpha /= len;
      if (lo == 0 && hi == 0) { lo = -1; hi = 1; }
      const float scale = (float)((hi - lo) / levels);
      const double zero = std::nearbyint(-lo / (double)scale);
      float* bp = &res.bin_params[((size_t)r * ng + gi) * 2];
      float* qp = &res.q8_params[((size_t)r * ng + gi) * 2];
      bp[0] = (float)alpha; bp[1] = (float)mu; qp[0] = scale; qp[1] = (float)zero;
    }
  };

  std::vector<double> loss_row(rows, 0.0);
  for (int i1 = 0; i1 < cols; i1 += B) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "pbllm: cancelled at column " + std::to_string(i1));
    const int i2 = std::min(cols, i1 + B), cnt = i2 - i1;
    for (int c = i1; c < i2; ++c) if (c % g == 0) setup_group(c / g);
    std::vector<double> Err((size_t)rows * cnt);
    ParallelRows(rows, ctl.threads, [&](size_t b, size_t e) {
      std::vector<double> w1(cnt);
      for (size_t r = b; r < e; ++r) {
        for (int j = 0; j < cnt; ++j) w1[j] = W[r * cols + i1 + j];
        for (int j = 0; j < cnt; ++j) {
          const int c = i1 + j, gi = c / g;
          const double d = U[(size_t)c * cols + c], wv = w1[j];
          double q;
          if (res.mask[r * cols + c]) {
            const float* bp = &res.bin_params[(r * ng + gi) * 2];
            q = (float)((wv - bp[1] >= 0 ? bp[0] : -bp[0]) + bp[1]);
          } else {
            const float* qp = &res.q8_params[(r * ng + gi) * 2];
            double code = std::nearbyint(wv / qp[0]) + qp[1];
            code = std::min(levels, std::max(0.0, code));
            q = (float)(qp[0] * (code - qp[1]));
          }
          res.dequant[r * cols + c] = (float)q;
          const double err = (wv - q) / d;
          loss_row[r] += (wv - q) * (wv - q) / (2 * d * d);
          Err[r * cnt + j] = err;
          for (int k = j + 1; k < cnt; ++k) w1[k] -= err * U[(size_t)c * cols + i1 + k];
        }
      }
    });
    if (i2 < cols)
      ParallelRows(rows, ctl.threads, [&](size_t b, size_t e) {
        for (size_t r = b; r < e; ++r)
          for (int j = 0; j < cnt; ++j) {
            const double er = Err[r * cnt + j];
            const double* urow = &U[(size_t)(i1 + j) * cols];
            for (int c = i2; c < cols; ++c) W[r * cols + c] -= er * urow[c];
          }
      });
    ctl.report(i2, cols);
  }
  const double frac = (double)nbin / (double)mn;
  res.bits_claimed = opt.low_frac + opt.high_bits * (1 - opt.low_frac);
  // Stored: codes (1 or high_bits bits), the 1-bit mask, and per row-group α, μ, scale (fp32) + zero (8 bit).
  res.bits_stored = frac + opt.high_bits * (1 - frac) + 1 + (double)rows * ng * (3 * 32 + 8) / (double)mn;
  for (double l : loss_row) res.loss += l;
  *out = std::move(res);
  return Status::Ok();
}

}  // namespace lowbit
