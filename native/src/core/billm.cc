// BiLLM (Aaronhuang-778/BiLLM bigptq.py, docs/algorithms.md §4a): per 128-column block, Hessian
// saliency S = W²/(U_jj)² with U the upper Cholesky factor of H⁻¹ (the reference's overwritten
// `H`; not the paper's [H⁻¹]_jj), salient-column and split searches on S, order-2 residual
// binarization of salient columns and order-1 of the sparse/dense groups, then GPTQ-style error
// propagation to later blocks. Faithful mode has no intra-block feedback (the reference); exact
// mode refits signs column by column with feedback, keeping the block's α/μ.
#include <algorithm>
#include <cmath>
#include <string>

#include "lowbit/binarize_billm_search.h"
#include "lowbit/binarize.h"
#include "lowbit/lowrank_parallel.h"

namespace lowbit {

namespace {

inline void SetBit(std::vector<uint8_t>& v, size_t i, bool on) {
  if (on) v[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
}

// Mean-pools a rows×cols matrix to at most maxr×maxc.
std::vector<double> Pool(const std::vector<double>& a, int rows, int cols, int outr, int outc) {
  std::vector<double> out((size_t)outr * outc, 0.0);
  for (int i = 0; i < outr; ++i) {
    int r0 = (int)((long)i * rows / outr), r1 = (int)((long)(i + 1) * rows / outr);
    for (int j = 0; j < outc; ++j) {
      int c0 = (int)((long)j * cols / outc), c1 = (int)((long)(j + 1) * cols / outc);
      double s = 0;
      for (int r = r0; r < r1; ++r)
        for (int c = c0; c < c1; ++c) s += a[(size_t)r * cols + c];
      out[(size_t)i * outc + j] = s / ((double)(r1 - r0) * (c1 - c0));
    }
  }
  return out;
}

// Decodes one value from a row-block's 8 scales.
inline double Decode(const float* sc, bool salient, bool dense, bool s1, bool s2) {
  if (salient)
    return (s1 ? sc[4] : -sc[4]) + sc[5] + (s2 ? sc[6] : -sc[6]) + sc[7];
  const float* p = dense ? sc + 2 : sc;
  return (s1 ? p[0] : -p[0]) + p[1];
}

}  // namespace

Status Billm(const float* w, int rows, int cols, const double* H, const BillmOptions& opt,
             const JobControl& ctl, std::vector<float>* out, BillmStored* stored,
             BillmDetails* details) {
  if (rows <= 0 || cols <= 0) return Status::Error(Code::kShape, "billm: empty weight " + std::to_string(rows) + "×" + std::to_string(cols));
  if (opt.block <= 0) return Status::Error(Code::kArg, "billm: block must be positive");
  for (size_t i = 0; i < (size_t)rows * cols; ++i)
    if (!std::isfinite(w[i])) return Status::Error(Code::kNumeric, "billm: non-finite weight at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols));
  std::vector<double> U;
  std::vector<uint8_t> dead;
  Status st = HessianInverseFactor(H, cols, opt.percdamp, &U, &dead, ctl.threads);
  if (!st.ok()) return Status::Error(st.code, "billm: " + st.message);

  const size_t mn = (size_t)rows * cols;
  std::vector<double> W(w, w + mn);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) if (dead[c]) W[(size_t)r * cols + c] = 0;

  const int B = opt.block, nblocks = (cols + B - 1) / B;
  BillmStored sto;
  sto.sign1.assign((mn + 7) / 8, 0);
  sto.sign2.assign((mn + 7) / 8, 0);
  sto.group.assign((mn + 7) / 8, 0);
  sto.salient_col.assign((cols + 7) / 8, 0);
  sto.scales.assign((size_t)rows * nblocks * 8, 0.f);
  std::vector<double> Sfull(mn, 0.0), colscore(cols, 0.0);
  std::vector<float> Q(mn, 0.f);
  BillmDetails det;
  double stored_bits = 0;
  std::vector<double> loss_row(rows, 0.0);

  for (int bi = 0; bi < nblocks; ++bi) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "billm: cancelled at block " + std::to_string(bi));
    const int i1 = bi * B, i2 = std::min(cols, i1 + B), cnt = i2 - i1;
    std::vector<double> W1((size_t)rows * cnt), S((size_t)rows * cnt);
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < cnt; ++j) {
        double v = W[(size_t)r * cols + i1 + j], d = U[(size_t)(i1 + j) * cols + i1 + j];
        W1[(size_t)r * cnt + j] = v;
        S[(size_t)r * cnt + j] = opt.hessian_saliency ? v * v / (d * d) : v;
        Sfull[(size_t)r * cols + i1 + j] = S[(size_t)r * cnt + j];
        colscore[i1 + j] += std::fabs(S[(size_t)r * cnt + j]);
      }
    BlockSearch bs = SearchBlock(S.data(), rows, cnt, opt.salient_up_lim, ctl.threads);
    for (int j = 0; j < cnt; ++j)
      if (bs.salient[j]) { det.salient_columns.push_back(i1 + j); SetBit(sto.salient_col, i1 + j, true); }
    det.split_points.push_back(bs.split);
    stored_bits += (double)rows * (2.0 * cnt + 128.0) + cnt;

    // Per-row α/μ from the block's (propagated) weights, then signs and dequantized values.
    std::vector<double> Err((size_t)rows * cnt, 0.0);
    std::vector<uint8_t> sg1((size_t)rows * cnt, 0), sg2((size_t)rows * cnt, 0), grp((size_t)rows * cnt, 0);
    ParallelRows(rows, ctl.threads, [&](size_t b, size_t e) {
      std::vector<uint8_t> mk[3];
      for (auto& m : mk) m.assign(cnt, 0);
      std::vector<double> tmp(cnt);
      for (size_t r = b; r < e; ++r) {
        double* w1 = &W1[r * cnt];
        const double* s = &S[r * cnt];
        for (int j = 0; j < cnt; ++j) {
          bool sal = bs.salient[j];
          mk[2][j] = sal;
          mk[1][j] = !sal && std::fabs(s[j]) >= bs.split;
          mk[0][j] = !sal && std::fabs(s[j]) < bs.split;
        }
        float* sc = &sto.scales[(r * nblocks + bi) * 8];
        BinParams p[2];
        for (int g = 0; g < 2; ++g) {
          BinarizeResidual(w1, mk[g].data(), cnt, 1, opt.fp16_scales, tmp.data(), p);
          sc[2 * g] = (float)p[0].alpha; sc[2 * g + 1] = (float)p[0].mu;
        }
        BinarizeResidual(w1, mk[2].data(), cnt, 2, opt.fp16_scales, tmp.data(), p);
        sc[4] = (float)p[0].alpha; sc[5] = (float)p[0].mu; sc[6] = (float)p[1].alpha; sc[7] = (float)p[1].mu;
        for (int j = 0; j < cnt; ++j) {
          const int c = i1 + j;
          const double d = U[(size_t)c * cols + c];
          const double wv = w1[j];
          const bool sal = mk[2][j], dense = mk[1][j];
          bool s1, s2 = false;
          if (sal) {
            s1 = wv - sc[5] >= 0;
            double res = wv - ((s1 ? sc[4] : -sc[4]) + sc[5]);
            s2 = res - sc[7] >= 0;
          } else {
            s1 = wv - (dense ? sc[3] : sc[1]) >= 0;
          }
          const double q = Decode(sc, sal, dense, s1, s2);
          Q[r * cols + c] = (float)q;
          sg1[r * cnt + j] = s1; sg2[r * cnt + j] = sal && s2; grp[r * cnt + j] = dense;
          const double err = (wv - q) / d;
          Err[r * cnt + j] = err;
          loss_row[r] += (wv - q) * (wv - q) / (2 * d * d);
          if (opt.exact)
            for (int k = j + 1; k < cnt; ++k) w1[k] -= err * U[(size_t)c * cols + i1 + k];
        }
      }
    });
    // Sign/group planes (sequential: bytes can straddle rows).
    for (int r = 0; r < rows; ++r) {
      for (int j = 0; j < cnt; ++j) {
        const size_t bit = (size_t)r * cols + i1 + j, t = (size_t)r * cnt + j;
        const bool s1 = sg1[t], s2 = sg2[t], sal = bs.salient[j], dense = grp[t];
        SetBit(sto.sign1, bit, s1);
        SetBit(sto.sign2, bit, sal && s2);
        SetBit(sto.group, bit, dense);
      }
    }
    // Lazy update of later blocks: W[:, i2:] −= Err · U[i1:i2, i2:].
    if (i2 < cols)
      ParallelRows(rows, ctl.threads, [&](size_t b, size_t e) {
        for (size_t r = b; r < e; ++r)
          for (int j = 0; j < cnt; ++j) {
            const double er = Err[r * cnt + j];
            if (er == 0) continue;
            const double* urow = &U[(size_t)(i1 + j) * cols];
            double* wr = &W[r * cols];
            for (int c = i2; c < cols; ++c) wr[c] -= er * urow[c];
          }
      });
    ctl.report(bi + 1, nblocks);
  }

  det.sal_rows = std::min(rows, 64);
  det.sal_cols = std::min(cols, 64);
  det.saliency = Pool(Sfull, rows, cols, det.sal_rows, det.sal_cols);
  det.column_profile = Pool(colscore, 1, cols, 1, std::min(cols, 256));
  det.bits_claimed = 1.0 + (double)det.salient_columns.size() / cols;
  det.bits_stored = stored_bits / (double)mn;
  for (double l : loss_row) det.loss += l;
  if (out) *out = std::move(Q);
  if (stored) *stored = std::move(sto);
  if (details) *details = std::move(det);
  return Status::Ok();
}

}  // namespace lowbit
