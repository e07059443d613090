// Shared pieces of the low-rank methods: the symmetric absmax group quantizer (FLRQ Eq. 8,
// MatMulNBits codes q + 2^(b−1)), the weighted error tr(ΔHΔᵀ), and result bookkeeping.
#include <algorithm>
#include <cmath>
#include <string>

#include "lowbit/gptq.h"
#include "lowbit/lowrank.h"
#include "lowbit/lowrank_parallel.h"
#include "lowbit/lowrank_internal.h"

namespace lowbit {

double Amax(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::fabs(v));
  return m;
}

void QuantizeSymAbsmax(const double* w, int rows, int cols, int bits, int group_size,
                       bool clip_search, int threads, SymQuant* out) {
  const int g = group_size <= 0 || group_size > cols ? cols : group_size;
  const int ng = (cols + g - 1) / g, qmax = (1 << (bits - 1)) - 1, off = 1 << (bits - 1);
  out->rows = rows; out->cols = cols; out->bits = bits; out->group_size = g;
  out->codes.assign((size_t)rows * cols, (uint8_t)off);
  out->scales.assign((size_t)rows * ng, 0.f);
  out->dequant.assign((size_t)rows * cols, 0.0);
  ParallelRows((size_t)rows, threads, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r)
      for (int gi = 0; gi < ng; ++gi) {
        const int c0 = gi * g, len = std::min(cols, c0 + g) - c0;
        const double* wr = w + r * cols + c0;
        double amax = 0;
        for (int j = 0; j < len; ++j) amax = std::max(amax, std::fabs(wr[j]));
        if (amax == 0 || qmax == 0) continue;
        float best_s = (float)(amax / qmax);
        double best_e = INFINITY;
        const int steps = clip_search ? 20 : 0;
        for (int t = 0; t <= steps; ++t) {
          const float s = (float)((1.0 - 0.025 * t) * amax / qmax);
          double err = 0;
          for (int j = 0; j < len; ++j) {
            double q = std::min<double>(qmax, std::max<double>(-qmax, std::nearbyint(wr[j] / s)));
            err += (wr[j] - s * q) * (wr[j] - s * q);
          }
          if (err < best_e) { best_e = err; best_s = s; }
        }
        out->scales[r * ng + gi] = best_s;
        for (int j = 0; j < len; ++j) {
          double q = std::min<double>(qmax, std::max<double>(-qmax, std::nearbyint(wr[j] / best_s)));
          out->codes[r * cols + c0 + j] = (uint8_t)(q + off);
          out->dequant[r * cols + c0 + j] = (double)best_s * q;
        }
      }
  });
}

Status QuantizeResidual(const double* w, int rows, int cols, int bits, int group_size, bool clip_search,
                        ResidualQuantizer quantizer, const double* H, const JobControl& ctl, SymQuant* out) {
  if (quantizer == ResidualQuantizer::kRtn) {
    QuantizeSymAbsmax(w, rows, cols, bits, group_size, clip_search, ctl.threads, out);
    out->zeros.clear();
    return Status::Ok();
  }
  if (!H) return Status::Error(Code::kArg, "quantizer gptq needs the layer Hessian H");
  const size_t mn = (size_t)rows * cols;
  std::vector<float> wf(w, w + mn);  // GPTQ's input is fp32 (the weights it replaces are fp32)
  GptqSpec spec;
  const bool asym = quantizer == ResidualQuantizer::kGptqAsym;
  spec.grid.bits = bits;
  spec.grid.symmetric = !asym;  // kGptq: zero point 2^(b−1), MatMulNBits' default, nothing stored
  spec.group_size = group_size;
  if (asym) {                   // the authors' WeightQuantizer(perchannel, sym=False, mse=True), act-order off
    spec.grid.mse_clip = true;
    spec.grid.norm = 2.4;
    spec.grid.grid = 100;
    spec.grid.maxshrink = 0.9;
  } else {
    spec.act_order = true;      // with groups this forces static groups (contiguous, no g_idx)
    spec.static_groups = true;
  }
  JobControl sub;              // cancellation and threads pass through; progress stays the caller's
  sub.cancel = ctl.cancel;
  sub.threads = ctl.threads;
  QuantizedWeight qw;
  GptqStats stats;
  Status st = QuantizeGptq(wf.data(), rows, cols, H, spec, sub, &qw, &stats);
  if (!st.ok()) return st;
  const int off = 1 << (bits - 1), ng = qw.num_groups();
  if (!asym)
    for (uint8_t z : qw.zeros)
      if (z != off) return Status::Error(Code::kNumeric, "gptq residual: symmetric zero point " + std::to_string(z) + " != 2^(b-1)");
  out->rows = rows; out->cols = cols; out->bits = bits; out->group_size = qw.group_size;
  out->codes.assign(qw.codes.begin(), qw.codes.end());
  out->scales = std::move(qw.scales);
  out->zeros.clear();
  if (asym) out->zeros = std::move(qw.zeros);
  out->dequant.assign(mn, 0.0);
  for (size_t i = 0; i < mn; ++i) {
    const size_t g = (i / cols) * ng + (i % cols) / qw.group_size;
    out->dequant[i] = (double)out->scales[g] * ((int)out->codes[i] - (asym ? (int)out->zeros[g] : off));
  }
  return Status::Ok();
}

double LowRankTraceError(const double* delta, int rows, int cols, const double* H, int threads) {
  std::vector<double> per_row(rows, 0.0);
  ParallelRows((size_t)rows, threads, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      const double* d = delta + r * cols;
      double acc = 0;
      if (!H) {
        for (int c = 0; c < cols; ++c) acc += d[c] * d[c];
      } else {
        for (int i = 0; i < cols; ++i) {
          if (d[i] == 0) continue;
          const double* h = H + (size_t)i * cols;
          double t = 0;
          for (int j = 0; j < cols; ++j) t += h[j] * d[j];
          acc += d[i] * t;
        }
      }
      per_row[r] = acc;
    }
  });
  double s = 0;
  for (double v : per_row) s += v;
  return s;
}

void ApplyLowRank(const double* base, const std::vector<double>& L, const std::vector<double>& R,
                  int rows, int cols, int rank, double sign, int threads, double* out) {
  ParallelRows((size_t)rows, threads, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      double* o = out + r * cols;
      const double* bs = base + r * cols;
      for (int c = 0; c < cols; ++c) o[c] = bs[c];
      for (int k = 0; k < rank; ++k) {
        const double l = sign * L[r * rank + k];
        const double* rr = &R[(size_t)k * cols];
        for (int c = 0; c < cols; ++c) o[c] += l * rr[c];
      }
    }
  });
}

void FakeQuantFactors(std::vector<double>* L, std::vector<double>* R, int rows, int cols, int rank) {
  for (int k = 0; k < rank; ++k) {  // L column k and R row k, symmetric absmax int8
    double a = 0;
    for (int r = 0; r < rows; ++r) a = std::max(a, std::fabs((*L)[(size_t)r * rank + k]));
    if (a > 0) { const float s = (float)(a / 127);
      for (int r = 0; r < rows; ++r) { double& v = (*L)[(size_t)r * rank + k]; v = (double)s * std::nearbyint(v / s); } }
    a = 0;
    for (int c = 0; c < cols; ++c) a = std::max(a, std::fabs((*R)[(size_t)k * cols + c]));
    if (a > 0) { const float s = (float)(a / 127);
      for (int c = 0; c < cols; ++c) { double& v = (*R)[(size_t)k * cols + c]; v = (double)s * std::nearbyint(v / s); } }
  }
}

void FinishErrors(const std::vector<double>& W, const double* H, const SymQuant& plain,
                  int threads, LowRankResult* out) {
  const int rows = out->q.rows, cols = out->q.cols;
  const size_t mn = (size_t)rows * cols;
  std::vector<double> d(mn);
  const double ref = LowRankTraceError(W.data(), rows, cols, H, threads);
  for (size_t i = 0; i < mn; ++i) d[i] = W[i] - plain.dequant[i];
  const double before = LowRankTraceError(d.data(), rows, cols, H, threads);
  std::vector<double> approx(mn);
  ApplyLowRank(out->q.dequant.data(), out->L, out->R, rows, cols, out->rank, 1.0, threads, approx.data());
  for (size_t i = 0; i < mn; ++i) d[i] = W[i] - approx[i];
  const double after = LowRankTraceError(d.data(), rows, cols, H, threads);
  out->rel_error_before = ref > 0 ? before / ref : 0;
  out->rel_error_after = ref > 0 ? after / ref : 0;
  out->storage_overhead = 16.0 * out->rank * (rows + cols) / ((double)out->q.bits * mn);
}

void FinishSvdBaseline(const LowRankBaselineOptions& opt, const std::vector<double>& singular,
                       const std::vector<double>& W, const double* H, int threads, LowRankResult* res) {
  if (opt.factor_bits == 8) FakeQuantFactors(&res->L, &res->R, res->q.rows, res->q.cols, res->rank);
  res->curve.assign(singular.begin(), singular.begin() + std::min<size_t>(singular.size(), 64));
  FinishErrors(W, H, res->q, threads, res);  // plain Q(W) is res->q itself (FinishErrors only reads it)
}

}  // namespace lowbit
