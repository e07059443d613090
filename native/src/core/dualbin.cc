// Dual binarization, PTQ variant of DB-LLM's FDB (docs/algorithms.md §4c, our extension): ŵ = α₁b₁ + α₂b₂
// with b ∈ {0,1} per row group. Initialized from the 2-bit grid {−s, 0, s, 2s} (α₁ = 2s, α₂ = −s,
// mirrored when the negative side is larger; s = range/3 with the range containing 0), then
// alternates (or from a given start, e.g. 2-bit GPTQ codes in FDB form) a per-group 2×2 least-squares refit of (α₁, α₂) and a nearest-level refit of the b's.
// A refit that would raise a group's error (fp32 rounding, singular system) is rejected, so the
// error curve never increases.
#include <algorithm>
#include <cmath>
#include <string>

#include "lowbit/binarize.h"
#include "lowbit/lowrank_parallel.h"

namespace lowbit {

namespace {

// Nearest of the four levels {0, α₂, α₁, α₁+α₂} (first wins on ties); returns squared error.
double AssignBits(const float* w, int len, float a1, float a2, uint8_t* b1, uint8_t* b2) {
  const double lv[4] = {0.0, (double)a2, (double)a1, (double)a1 + (double)a2};
  double err = 0;
  for (int j = 0; j < len; ++j) {
    int best = 0;
    double be = INFINITY;
    for (int t = 0; t < 4; ++t) {
      double e = (w[j] - lv[t]) * (w[j] - lv[t]);
      if (e < be) { be = e; best = t; }
    }
    b1[j] = best >= 2; b2[j] = best == 1 || best == 3;
    err += be;
  }
  return err;
}

double GroupError(const float* w, int len, float a1, float a2, const uint8_t* b1, const uint8_t* b2) {
  double err = 0;
  for (int j = 0; j < len; ++j) {
    double q = (b1[j] ? (double)a1 : 0.0) + (b2[j] ? (double)a2 : 0.0);
    err += (w[j] - q) * (w[j] - q);
  }
  return err;
}

}  // namespace

Status DualBinarize(const float* w, int rows, int cols, const DualBinOptions& opt,
                    const JobControl& ctl, DualBinResult* out) {
  if (rows <= 0 || cols <= 0) return Status::Error(Code::kShape, "dualbin: empty weight");
  const size_t mn = (size_t)rows * cols;
  for (size_t i = 0; i < mn; ++i)
    if (!std::isfinite(w[i])) return Status::Error(Code::kNumeric, "dualbin: non-finite weight at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols));
  const int g = opt.group_size <= 0 || opt.group_size > cols ? cols : opt.group_size;
  const int ng = (cols + g - 1) / g;
  DualBinResult res;
  res.b1.assign(mn, 0);
  res.b2.assign(mn, 0);
  res.alphas.assign((size_t)rows * ng * 2, 0.f);
  std::vector<double> gerr((size_t)rows * ng, 0.0);

  auto sum_err = [&] { double s = 0; for (double e : gerr) s += e; return s; };
  ParallelRows(rows, ctl.threads, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r)
      for (int gi = 0; gi < ng; ++gi) {
        const int c0 = gi * g, len = std::min(cols, c0 + g) - c0;
        const float* wr = w + r * cols + c0;
        double lo = 0, hi = 0;
        for (int j = 0; j < len; ++j) { lo = std::min(lo, (double)wr[j]); hi = std::max(hi, (double)wr[j]); }
        float* al = &res.alphas[(r * ng + gi) * 2];
        if (opt.init_alphas) {  // given start: codes and (α₁, α₂) as they are
          al[0] = opt.init_alphas[(r * ng + gi) * 2]; al[1] = opt.init_alphas[(r * ng + gi) * 2 + 1];
          for (int j = 0; j < len; ++j) {
            res.b1[r * cols + c0 + j] = opt.init_b1[r * cols + c0 + j] != 0;
            res.b2[r * cols + c0 + j] = opt.init_b2[r * cols + c0 + j] != 0;
          }
          gerr[r * ng + gi] = GroupError(wr, len, al[0], al[1], &res.b1[r * cols + c0], &res.b2[r * cols + c0]);
          continue;
        }
        const double s = (hi - lo) / 3.0;
        float a1 = (float)(hi >= -lo ? 2 * s : -2 * s), a2 = (float)(hi >= -lo ? -s : s);
        al[0] = a1; al[1] = a2;
        gerr[r * ng + gi] = AssignBits(wr, len, a1, a2, &res.b1[r * cols + c0], &res.b2[r * cols + c0]);
      }
  });
  res.error_curve.push_back(sum_err());

  for (int it = 0; it < opt.iters; ++it) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "dualbin: cancelled at iteration " + std::to_string(it));
    ParallelRows(rows, ctl.threads, [&](size_t b, size_t e) {
      for (size_t r = b; r < e; ++r)
        for (int gi = 0; gi < ng; ++gi) {
          const int c0 = gi * g, len = std::min(cols, c0 + g) - c0;
          const float* wr = w + r * cols + c0;
          uint8_t* b1 = &res.b1[r * cols + c0];
          uint8_t* b2 = &res.b2[r * cols + c0];
          float* al = &res.alphas[(r * ng + gi) * 2];
          // 2×2 normal equations for (α₁, α₂) given b.
          double n11 = 0, n12 = 0, n22 = 0, y1 = 0, y2 = 0;
          for (int j = 0; j < len; ++j) {
            n11 += b1[j]; n22 += b2[j]; n12 += b1[j] && b2[j];
            if (b1[j]) y1 += wr[j];
            if (b2[j]) y2 += wr[j];
          }
          const double det = n11 * n22 - n12 * n12;
          if (det > 0.5) {  // integer counts: det ≥ 1 when non-singular
            const float a1 = (float)((n22 * y1 - n12 * y2) / det), a2 = (float)((n11 * y2 - n12 * y1) / det);
            const double e2 = GroupError(wr, len, a1, a2, b1, b2);
            if (e2 <= gerr[r * ng + gi]) { al[0] = a1; al[1] = a2; gerr[r * ng + gi] = e2; }
          }
          std::vector<uint8_t> nb1(len), nb2(len);
          const double e3 = AssignBits(wr, len, al[0], al[1], nb1.data(), nb2.data());
          if (e3 <= gerr[r * ng + gi]) {
            std::copy(nb1.begin(), nb1.end(), b1);
            std::copy(nb2.begin(), nb2.end(), b2);
            gerr[r * ng + gi] = e3;
          }
        }
    });
    res.error_curve.push_back(sum_err());
    ctl.report(it + 1, opt.iters);
  }
  res.dequant.assign(mn, 0.f);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const float* al = &res.alphas[((size_t)r * ng + c / g) * 2];
      const size_t i = (size_t)r * cols + c;
      res.dequant[i] = (float)((res.b1[i] ? (double)al[0] : 0.0) + (res.b2[i] ? (double)al[1] : 0.0));
    }
  res.bits_stored = 2.0 + (double)rows * ng * 64 / (double)mn;
  *out = std::move(res);
  return Status::Ok();
}

}  // namespace lowbit
