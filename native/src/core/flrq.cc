// FLRQ (arXiv 2601.05684, reconstructed — docs/algorithms.md §5a): R1-FLR greedy rank selection with
// R1-Sketch components, activation scaling (Eq. 10–11), symmetric absmax quantization of the
// residual with clip search (or, as an extension, GPTQ against H — opt.quantizer), and BLC
// alternation keeping the best pair by tr(ΔHΔᵀ).
#include <algorithm>
#include <cmath>
#include <string>

#include "lowbit/lowrank.h"
#include "lowbit/lowrank_internal.h"
#include "lowbit/lowrank_parallel.h"
#include "lowbit/sketch.h"

namespace lowbit {

Status R1Flr(const double* a, int rows, int cols, const FlrqOptions& opt, const JobControl& ctl,
             std::vector<double>* L, std::vector<double>* R, int* rank, std::vector<double>* curve) {
  const size_t mn = (size_t)rows * cols;
  std::vector<double> res(a, a + mn), trial(mn), l(rows), r(cols);
  std::vector<std::vector<double>> ls, rs;
  curve->clear();
  const double w0 = Amax(res);
  curve->push_back(w0);
  SketchRng rng(opt.seed);
  const double d = opt.bits;
  const int max_rank = std::min({opt.max_rank, rows, cols});
  for (int k = 1; k <= max_rank && w0 > 0; ++k) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "flrq: cancelled at rank " + std::to_string(k));
    R1SketchComponent(res.data(), rows, cols, opt.sketch_iters, &rng, ctl.threads, l.data(), r.data());
    ParallelRows((size_t)rows, ctl.threads, [&](size_t b, size_t e) {
      for (size_t x = b; x < e; ++x)
        for (int c = 0; c < cols; ++c) trial[x * cols + c] = res[x * cols + c] - l[x] * r[c];
    });
    const double wr = Amax(trial);
    curve->push_back(wr);
    const double q = wr > 0 ? (d + std::log2(w0 / wr)) / d : INFINITY;
    const double kk = 1 + 16.0 * k * (rows + cols) / (d * (double)mn);
    const int span = std::min(4, k);
    double slope = 0;
    for (int i = k - span + 1; i <= k; ++i) {
      const double prev = (*curve)[i - 1];
      slope += prev > 0 ? (prev - (*curve)[i]) / prev : 0;
    }
    slope /= span;
    if (kk > q || kk > 1 + opt.budget_x || slope < opt.slope_t) break;
    res.swap(trial);
    ls.push_back(l);
    rs.push_back(r);
    if (wr == 0) break;
  }
  *rank = (int)ls.size();
  L->assign((size_t)rows * *rank, 0.0);
  R->assign((size_t)*rank * cols, 0.0);
  for (int k = 0; k < *rank; ++k) {
    for (int x = 0; x < rows; ++x) (*L)[(size_t)x * *rank + k] = ls[k][x];
    std::copy(rs[k].begin(), rs[k].end(), R->begin() + (size_t)k * cols);
  }
  return Status::Ok();
}

Status Flrq(const float* w, int rows, int cols, const double* H, const float* act_mean,
            const FlrqOptions& opt, const JobControl& ctl, LowRankResult* out) {
  if (rows <= 0 || cols <= 0) return Status::Error(Code::kShape, "flrq: empty weight");
  if (opt.bits < 2 || opt.bits > 8) return Status::Error(Code::kArg, "flrq: bits must be in 2..8");
  if (opt.quantizer != ResidualQuantizer::kRtn && !H) return Status::Error(Code::kArg, "flrq: quantizer gptq needs the layer Hessian H");
  const size_t mn = (size_t)rows * cols;
  std::vector<double> W(w, w + mn);
  for (size_t i = 0; i < mn; ++i)
    if (!std::isfinite(W[i])) return Status::Error(Code::kNumeric, "flrq: non-finite weight at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols));
  // Activation scaling α (ones when disabled or no statistics).
  std::vector<double> alpha(cols, 1.0);
  if (opt.act_scaling && act_mean && opt.rank_rule == FlrqRankRule::kAuthors) {
    // The authors' scales: x̄^e floored at 1e-15, over sqrt(max·min) of the same (quant_sketch_*).
    double mx = 0, mn_ = INFINITY;
    for (int c = 0; c < cols; ++c) {
      alpha[c] = std::max(std::pow((double)std::fabs(act_mean[c]), opt.act_exponent), 1e-15);
      mx = std::max(mx, alpha[c]);
      mn_ = std::min(mn_, alpha[c]);
    }
    const double norm = std::sqrt(mx * mn_);
    for (int c = 0; c < cols; ++c) alpha[c] = std::isfinite(alpha[c] / norm) && norm > 0 ? alpha[c] / norm : 1.0;
  } else if (opt.act_scaling && act_mean) {
    double mx = 0;
    for (int c = 0; c < cols; ++c) mx = std::max(mx, (double)std::fabs(act_mean[c]));
    if (mx > 0) {
      std::vector<double> xb(cols);
      double mn_ = INFINITY;
      for (int c = 0; c < cols; ++c) { xb[c] = std::max((double)std::fabs(act_mean[c]), 1e-6 * mx); mn_ = std::min(mn_, xb[c]); }
      const double norm = std::sqrt(mx * mn_);
      for (int c = 0; c < cols; ++c) alpha[c] = std::pow(xb[c], opt.act_exponent) / norm;
      for (int c = 0; c < cols; ++c) if (!(alpha[c] > 0) || !std::isfinite(alpha[c])) alpha[c] = 1.0;
    }
  }
  auto fit = [&](const std::vector<double>& target, std::vector<double>* L, std::vector<double>* R,
                 int* rank, std::vector<double>* curve) -> Status {
    std::vector<double> scaled(mn);
    for (size_t i = 0; i < mn; ++i) scaled[i] = target[i] * alpha[i % cols];
    Status st = opt.rank_rule == FlrqRankRule::kAuthors ? R1FlrAuthors(scaled.data(), rows, cols, opt, ctl, L, R, rank, curve)
                                                        : R1Flr(scaled.data(), rows, cols, opt, ctl, L, R, rank, curve);
    for (int k = 0; k < *rank; ++k)
      for (int c = 0; c < cols; ++c) (*R)[(size_t)k * cols + c] /= alpha[c];
    return st;
  };
  LowRankResult cur;
  Status st = fit(W, &cur.L, &cur.R, &cur.rank, &cur.curve);
  if (!st.ok()) return st;
  std::vector<double> tmp(mn), delta(mn);
  // W_q = Q(W − W_r). With GPTQ the minimized ‖(W − W_r − W_q)X‖² is exactly the layer output error.
  auto requant = [&](LowRankResult* x) -> Status {
    ApplyLowRank(W.data(), x->L, x->R, rows, cols, x->rank, -1.0, ctl.threads, tmp.data());
    Status s = QuantizeResidual(tmp.data(), rows, cols, opt.bits, opt.group_size, opt.clip_search, opt.quantizer, H, ctl, &x->q);
    return s.ok() ? s : Status::Error(s.code, "flrq: " + s.message);
  };
  st = requant(&cur);
  if (!st.ok()) return st;
  LowRankResult best;
  double best_e = INFINITY;
  std::vector<double> best_curve;
  for (int epoch = 0; epoch <= opt.blc_epochs; ++epoch) {
    ApplyLowRank(cur.q.dequant.data(), cur.L, cur.R, rows, cols, cur.rank, 1.0, ctl.threads, tmp.data());
    for (size_t i = 0; i < mn; ++i) delta[i] = W[i] - tmp[i];
    const double e = LowRankTraceError(delta.data(), rows, cols, H, ctl.threads);
    if (e < best_e) { best_e = e; best = cur; }
    best_curve.push_back(best_e);
    ctl.report(epoch + 1, opt.blc_epochs + 1);
    if (epoch == opt.blc_epochs) break;
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "flrq: cancelled at BLC epoch " + std::to_string(epoch));
    for (size_t i = 0; i < mn; ++i) tmp[i] = W[i] - cur.q.dequant[i];
    LowRankResult next;
    st = fit(tmp, &next.L, &next.R, &next.rank, &next.curve);
    if (!st.ok()) return st;
    st = requant(&next);
    if (!st.ok()) return st;
    cur = std::move(next);
  }
  SymQuant plain;  // Q(W) with the same quantizer: rel_error_before measures what L·R + BLC add
  if (best.rank == 0) {
    plain = best.q;  // rank 0 quantized W itself: the same deterministic call, no second solve
  } else {
    st = QuantizeResidual(W.data(), rows, cols, opt.bits, opt.group_size, opt.clip_search, opt.quantizer, H, ctl, &plain);
    if (!st.ok()) return Status::Error(st.code, "flrq: " + st.message);
  }
  best.blc_best = std::move(best_curve);
  FinishErrors(W, H, plain, ctl.threads, &best);
  *out = std::move(best);
  return Status::Ok();
}

}  // namespace lowbit
