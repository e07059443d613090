// GPTQ's default solve (see gptq_fp32.h): the authors' fp32 working precision with half the
// factorization's flops. H = V·Vᵀ with V = U⁻¹ upper (one Cholesky of the reversed H; GPTQ's U =
// chol(H⁻¹) needs a triangular inverse more). Since W − Q = E·U (E the scaled errors), the value GPTQ
// quantizes in column j is W̃_j = W_j + U_jj·S_j with S_j = Σ_{i<j} Δ_i·V_ij, Δ = W − Q: the solve keeps
// the fp32 accumulator S, stored transposed (Sᵀ, n×m: column j of S is m consecutive floats), summed
// in-block (S_j += Σ_{i<j in the block} Δ_i·V_ij, kLanes rows at a time as vector lanes) and lazily in
// two levels (fp32 GEMMs with fp32 C): after each block only the columns up to the end of its span of
// ≈ 256 columns, at the span's end all later columns at depth ≈ 256. W itself is only read (the
// caller's array, or a permuted copy with dead columns zeroed). Rows are independent inside a block
// and the GEMM's sums do not depend on the partition, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "lowbit/clones.h"
#include "lowbit/cholesky.h"
#include "lowbit/gemm.h"
#include "lowbit/gptq_fp32.h"
#include "lowbit/parallel.h"
#include "lowbit/scratch.h"

namespace lowbit {
namespace {

struct Fp32Block {
  const float* w;   // working W (m×n), read only
  const float* st;  // Sᵀ (n×m): rows ≥ i1 hold Σ over earlier blocks; unset in block 0 (read as 0)
  size_t n, m, i1, i2;
  int g;
  bool grouped, static_groups;
  int ng, maxq;
  const size_t* perm;
  bool identity;  // perm is the identity (no act-order)
  const double* vjj;  // V_jj
  const double* ujj;  // U_jj = 1 / V_jj
  const float* vt;    // V[i1:i2, i1:i2] transposed: vt[jl*bs + i] = V[i1 + i][i1 + jl]
  GridParams* params;
  QuantizedWeight* out;
  double* row_loss;
  float* delta;  // k-major Δ of the block: delta[(j-i1)*m + r] (the lazy GEMMs' B operand)
};

constexpr size_t kLazyDepth = 256;  // columns per lazy-update span (one KC block of the GEMM)
// Rows per in-block step, as vector lanes: two 16-lane fp32 vectors (four 8-lane fp64 ones). Each
// column's quantization is a chain of dependent steps (the division and rounding lead it); two
// independent 16-row chains per step let the core overlap them.
constexpr size_t kLanes = 32, kHalf = 16;
typedef float F16 __attribute__((vector_size(64)));

// A fresh group's parameters for every row, from GPTQ's W^(j)_c = W_c − Σ_{i<j} E_i·U_ic (c in the
// group of len columns at j): with C = V[j:, j:] that is W_c + (S·C⁻¹)_c (S over columns ≥ j holds
// Σ_{i<j} Δ_i·V_ic), and C⁻¹ on the group is U's diagonal block there (ug, len×len upper, fp32; null
// in block 0, where S = 0). One GEMM X = S_group·ug over all rows (Sᵀ is its k-major A operand), then
// W added and the row's parameters found on X (m×len scratch).
void FreshGroupParams(const float* wk, const float* st, size_t m, size_t n, size_t j, size_t len, const float* ug,
                      float* x, size_t gi, int ng, const GridSpec& grid, GridParams* params, int threads) {
  if (ug) GemmKMajorF32C32(m, len, len, 1.0, st + j * m, m, ug, len, x, len, threads, 0.0);
  ParallelFor(m, threads, 16, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      float* xr = x + r * len;
      const float* wr = wk + r * n + j;
      if (ug)
        for (size_t c = 0; c < len; ++c) xr[c] += wr[c];
      else
        std::copy(wr, wr + len, xr);
      params[r * ng + gi] = FindParams(xr, len, 1, grid);
    }
  });
}

// Columns [i1, i2) of rows [r0, r1) (at most kLanes), the rows as vector lanes: the block's W is
// transposed into a private k-major tile (wt[k*kLanes + l], column i1 + k of row r0 + l), and column
// j's S of the kLanes rows is one run of Sᵀ, so column j's values of all rows are two vectors,
// quantized lane-wise (QuantizeValue's arithmetic). Left-looking: column j's S is its block-start
// value plus Σ_{i<j in the block} Δ_i·V_ij, a dot product over the block's earlier Δ vectors in four
// register accumulators per half (vt: the block's V transposed), so nothing is stored per later
// column. Codes and dequantized values go to k-major tiles, written out row by row at the end. Lanes
// are independent, so a row's result does not depend on which rows share its step.
LOWBIT_CLONES
void QuantizeBlockRowsFp32(const Fp32Block& a, size_t r0, size_t r1) {
  const size_t n = a.n, m = a.m, i1 = a.i1, bs = a.i2 - a.i1, nr = r1 - r0;
  thread_local std::vector<float> store;
  const size_t need = 3 * bs * kLanes + kLanes + bs + 16;
  if (store.size() < need) store.resize(need);
  float* const wt = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(store.data()) + 63) & ~uintptr_t{63});
  float* const dt = wt + bs * kLanes;    // the block's Δ vectors, dt[i*kLanes + l]
  float* const dqt = dt + bs * kLanes;   // dequantized values, k-major
  float* const pad = dqt + bs * kLanes;  // a ragged step's S column, zero-padded; then a row buffer
  thread_local std::vector<uint8_t> codes_tile;
  if (codes_tile.size() < bs * (kLanes + 1)) codes_tile.resize(bs * (kLanes + 1));
  uint8_t* const ct = codes_tile.data();
  for (size_t l = 0; l < kLanes; ++l) {
    const float* wr = a.w + (r0 + l) * n + i1;
    const bool live = l < nr;
    for (size_t k = 0; k < bs; ++k) wt[k * kLanes + l] = live ? wr[k] : 0.0f;
  }
  const size_t stride = a.grouped ? a.ng : 1;
  const double maxq = a.maxq;
  alignas(64) double loss[kLanes];
  for (size_t l = 0; l < kLanes; ++l) loss[l] = l < nr ? a.row_loss[r0 + l] : 0.0;
  alignas(64) double sc[kLanes], zr[kLanes];
  size_t params_of = SIZE_MAX;  // the group whose parameters sc / zr hold
  for (size_t j = a.i1; j < a.i2; ++j) {
    const size_t col = a.perm[j], jl = j - i1;
    const double vd2 = a.vjj[j] * a.vjj[j] / 2.0, ud = a.ujj[j];
    const size_t gi = !a.grouped ? 0 : a.static_groups ? col / a.g : j / a.g;
    if (gi != params_of) {
      for (size_t l = 0; l < kLanes; ++l) {
        const GridParams p = l < nr ? a.params[(r0 + l) * stride + gi] : GridParams{};
        sc[l] = p.scale;
        zr[l] = p.zero;
      }
      params_of = gi;
    }
    // S of column j: block-start value + the block's earlier columns.
    const float* __restrict v = a.vt + jl * bs;
    F16 acc[4][2] = {};  // [chain][half]
    size_t i = 0;
    for (; i + 4 <= jl; i += 4)
      for (size_t t = 0; t < 4; ++t)
        for (size_t h = 0; h < 2; ++h) {
          F16 dv;
          __builtin_memcpy(&dv, dt + (i + t) * kLanes + h * kHalf, sizeof dv);
          acc[t][h] += dv * v[i + t];
        }
    for (size_t t = 0; i < jl; ++i, ++t)
      for (size_t h = 0; h < 2; ++h) {
        F16 dv;
        __builtin_memcpy(&dv, dt + i * kLanes + h * kHalf, sizeof dv);
        acc[t][h] += dv * v[i];
      }
    const float* s0 = a.st + j * m + r0;  // block 0: S = 0
    if (i1 == 0 || nr < kLanes) {
      for (size_t l = 0; l < kLanes; ++l) pad[l] = i1 > 0 && l < nr ? s0[l] : 0.0f;
      s0 = pad;
    }
    alignas(64) float sj[kLanes];
    for (size_t h = 0; h < 2; ++h) {
      F16 sv;
      __builtin_memcpy(&sv, s0 + h * kHalf, sizeof sv);
      sv += (acc[0][h] + acc[1][h]) + (acc[2][h] + acc[3][h]);
      __builtin_memcpy(sj + h * kHalf, &sv, sizeof sv);
    }
    const float* __restrict wj = wt + jl * kLanes;
    float* __restrict d = dt + jl * kLanes;
    float* __restrict dq = dqt + jl * kLanes;
    uint8_t* __restrict cq = ct + jl * kLanes;
    for (size_t l = 0; l < kLanes; ++l) {
      const double w0 = wj[l];
      const double x = w0 + static_cast<double>(sj[l]) * ud;
      double q = std::nearbyint(x / sc[l]) + zr[l];  // QuantizeValue, lane-wise
      q = q >= 0.0 ? q : 0.0;
      q = q > maxq ? maxq : q;
      const double qv = sc[l] * (q - zr[l]);
      cq[l] = static_cast<uint8_t>(q);
      dq[l] = static_cast<float>(qv);
      loss[l] += (x - qv) * (x - qv) * vd2;  // (x − q)²/(2·U_jj²)
      d[l] = static_cast<float>(w0 - qv);
    }
    if (nr == kLanes) __builtin_memcpy(a.delta + jl * m + r0, d, sizeof(float) * kLanes);
    else std::copy(d, d + nr, a.delta + jl * m + r0);
  }
  // Write-out, row by row: gathered from the tiles into an L1 row buffer, then stored as whole runs
  // (scattered through perm under act-order).
  uint8_t* __restrict codes = a.out->codes.data();
  float* __restrict dequant = a.out->dequant.data();
  const size_t* __restrict perm = a.perm;
  float* const drow = pad + kLanes;
  uint8_t* const crow = ct + bs * kLanes;
  for (size_t l = 0; l < nr; ++l) {
    uint8_t* cr = codes + (r0 + l) * n;
    float* dr = dequant + (r0 + l) * n;
    for (size_t k = 0; k < bs; ++k) {
      crow[k] = ct[k * kLanes + l];
      drow[k] = dqt[k * kLanes + l];
    }
    if (a.identity) {
      std::memcpy(cr + i1, crow, bs);
      std::memcpy(dr + i1, drow, bs * sizeof(float));
    } else {
      for (size_t k = 0; k < bs; ++k) {
        cr[perm[i1 + k]] = crow[k];
        dr[perm[i1 + k]] = drow[k];
      }
    }
    a.row_loss[r0 + l] = loss[l];
  }
}

}  // namespace

Status SolveGptqFp32(const float* w, size_t m, size_t n, const double* h, const GptqSpec& spec, int g,
                     const JobControl& ctl, QuantizedWeight* out, GptqStats* stats, PhaseTimer& prof) {
  const bool grouped = static_cast<size_t>(g) < n;
  const int maxq = (1 << spec.grid.bits) - 1, ng = out->num_groups();
  std::vector<double> diag(n);
  for (size_t j = 0; j < n; ++j) diag[j] = h[j * n + j];
  // Per-row parameters on the original W (before dead columns are zeroed), as the reference.
  std::vector<GridParams> params(m * ng);
  if (!grouped)
    ParallelFor(m, ctl.threads, 16, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) params[r] = FindParams(w + r * n, n, 1, spec.grid);
    });
  std::vector<uint8_t> dead(n, 0);
  bool any_dead = false;
  for (size_t j = 0; j < n; ++j)
    if (diag[j] == 0.0) {
      diag[j] = 1.0;
      dead[j] = 1;
      any_dead = true;
    }
  if (grouped && spec.static_groups)
    ParallelFor(m, ctl.threads, 16, [&](size_t r0, size_t r1) {
      std::vector<float> row(n);
      for (size_t r = r0; r < r1; ++r) {
        for (size_t j = 0; j < n; ++j) row[j] = dead[j] ? 0.0f : w[r * n + j];
        for (int gi = 0; gi < ng; ++gi)
          params[r * ng + gi] = FindParams(row.data() + gi * g, std::min<size_t>(g, n - gi * g), 1, spec.grid);
      }
    });
  // Act-order: stable sort by decreasing diag(H); permute W's columns and both axes of H.
  std::vector<size_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  std::vector<double> hperm;
  const double* hf = h;
  if (spec.act_order) {
    std::stable_sort(perm.begin(), perm.end(), [&](size_t a, size_t b) { return diag[a] > diag[b]; });
    hperm.resize(n * n);
    ParallelFor(n, ctl.threads, 16, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i)
        for (size_t j = 0; j < n; ++j) hperm[i * n + j] = h[perm[i] * n + perm[j]];
    });
    std::vector<double> t(n);
    for (size_t i = 0; i < n; ++i) t[i] = diag[perm[i]];
    diag.swap(t);
    hf = hperm.data();
  }
  // The working W: the caller's array itself unless columns move or die.
  const bool copy = spec.act_order || any_dead;
  ScratchFloats wbuf(copy ? m * n : 1);
  if (copy)
    ParallelFor(m, ctl.threads, 16, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r)
        for (size_t j = 0; j < n; ++j) wbuf.get()[r * n + j] = dead[perm[j]] ? 0.0f : w[r * n + perm[j]];
    });
  const float* const wk = copy ? wbuf.get() : w;
  prof.Mark("prepare");
  ScratchFloats v(n * n);  // uninitialized: the factorization writes all of it
  Status st = FactorDampedF32(hf, diag, n, spec, ctl.threads, v.get(), stats);
  if (!st.ok()) return st;
  std::vector<double> vjj(n), ujj(n);
  for (size_t j = 0; j < n; ++j) {
    vjj[j] = v.get()[j * n + j];
    ujj[j] = 1.0 / vjj[j];
  }
  prof.Mark("factor");
  double t_block[3] = {0.0, 0.0, 0.0}, t_lazy[3] = {0.0, 0.0, 0.0};  // wall, cpu, page faults
  ScratchFloats s(n * m);  // Sᵀ; block 0 writes its columns ≥ i2 (beta = 0), so it needs no clearing
  std::vector<double> row_loss(m, 0.0);
  std::vector<float> vt, ug;
  // Two-level lazy updates: blocks are grouped into spans of about kLazyDepth columns (whole blocks,
  // whole groups when groups start fresh). After each block only the span's later columns are brought
  // up to date (a GEMM of depth bs over < kLazyDepth columns); the columns past the span get the whole
  // span's update at its end in one GEMM of depth ≈ kLazyDepth, which reads and writes the m×n
  // accumulator half as often as a GEMM per 128-column block (that traffic, not the FMAs, bounded it).
  const size_t bs0 = static_cast<size_t>(spec.block_size);
  const bool fresh_groups = grouped && !spec.static_groups;
  const size_t span = fresh_groups ? std::max<size_t>(g, kLazyDepth / g * g) : std::max<size_t>(bs0, kLazyDepth / bs0 * bs0);
  // The span's k-major Δ, and a fresh group's values X (m×g): pooled, so no first-touch faults after the first solve.
  const size_t span_cols = std::min(span, n);
  ScratchFloats span_buf(span_cols * m), xbuf(fresh_groups ? m * static_cast<size_t>(g) : 1);
  float* const delta = span_buf.get();
  const float* const vp = v.get();
  size_t i1 = 0, s1 = 0, s2 = 0;  // the span [s1, s2)
  while (i1 < n) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "GPTQ cancelled at column " + std::to_string(i1));
    if (i1 == s2) {
      s1 = i1;
      s2 = std::min(n, s1 + span);
    }
    size_t i2 = std::min(s2, i1 + bs0);
    if (fresh_groups) i2 = std::min(i2, (i1 / g + 1) * static_cast<size_t>(g));
    const size_t bs = i2 - i1;
    const float* const vbp = vp + i1 * n + i1;  // V[i1:i2, i1:n]
    float* const dblk = delta + (i1 - s1) * m;
    if (fresh_groups && i1 % g == 0) {  // a fresh group starts a block (blocks are cut at group boundaries)
      const size_t len = std::min<size_t>(g, n - i1);
      if (i1 > 0) {  // U's diagonal block of the group: the inverse of V's
        std::vector<double> t(len * len, 0.0);
        for (size_t i = 0; i < len; ++i) std::copy(vp + (i1 + i) * n + i1 + i, vp + (i1 + i) * n + i1 + len, t.begin() + i * len + i);
        InvertUpper(t.data(), len, ctl.threads);
        ug.assign(t.begin(), t.end());
      }
      FreshGroupParams(wk, s.get(), m, n, i1, len, i1 > 0 ? ug.data() : nullptr, xbuf.get(), i1 / g, ng, spec.grid,
                       params.data(), ctl.threads);
    }
    vt.resize(bs * bs);
    for (size_t i = 0; i < bs; ++i)
      for (size_t c = 0; c < bs; ++c) vt[c * bs + i] = vbp[i * n + c];
    const Fp32Block ba{wk, s.get(), n, m, i1, i2, g, grouped, spec.static_groups, ng, maxq, perm.data(), !spec.act_order,
                       vjj.data(), ujj.data(), vt.data(), params.data(), out, row_loss.data(), dblk};
    ParallelFor(m, ctl.threads, kLanes, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; r += kLanes) QuantizeBlockRowsFp32(ba, r, std::min(r1, r + kLanes));
    });
    prof.Add(t_block);
    // Sᵀ[c][r] += Σ_k V[k][c]·Δ[k][r]: A = V's rows (k-major), B = the k-major Δ.
    if (i2 < s2)  // the span's later columns
      GemmKMajorF32C32(s2 - i2, m, bs, 1.0, vbp + bs, n, dblk, m, s.get() + i2 * m, m, ctl.threads, i1 == 0 ? 0.0 : 1.0);
    if (i2 == s2 && s2 < n)  // the columns past the span, once per span
      GemmKMajorF32C32(n - s2, m, s2 - s1, 1.0, vp + s1 * n + s2, n, delta, m, s.get() + s2 * m, m, ctl.threads,
                       s1 == 0 ? 0.0 : 1.0);
    prof.Add(t_lazy);
    i1 = i2;
    ctl.report(i1, n);
  }
  prof.Report("in-block", t_block);
  prof.Report("lazy", t_lazy);
  StoreRowResults(params, row_loss, ng, grouped, out, stats);
  return Status::Ok();
}

}  // namespace lowbit
