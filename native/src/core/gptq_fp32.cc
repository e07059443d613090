// GPTQ's default solve (see gptq_fp32.h): the authors' fp32 working precision with half the
// factorization's flops. H = V·Vᵀ with V = U⁻¹ upper (one Cholesky of the reversed H; GPTQ's U =
// chol(H⁻¹) needs a triangular inverse more). Since W − Q = E·U (E the scaled errors), the value GPTQ
// quantizes in column j is W̃_j = W_j + U_jj·S_j with S_j = Σ_{i<j} Δ_i·V_ij, Δ = W − Q: the solve keeps
// the fp32 accumulator S (m×n), updated in-block (S[r, k] += Δ_rj·V_jk, 8 rows per thread, 16-wide
// fp32 vectors) and lazily (S[:, i2:] += Δ_blk·V[i1:i2, i2:]: one fp32 GEMM with fp32 C per block).
// W itself is only read (the caller's array, or a permuted copy with dead columns zeroed). Rows are
// independent inside a block and the GEMM's sums do not depend on the partition, so results do not
// depend on the thread count.
#include <algorithm>
#include <cstdint>
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
  const float* w;  // working W (m×n), read only
  const float* s;  // S (m×n): columns ≥ i1 hold Σ over earlier blocks; unset in block 0 (read as 0)
  size_t n, m, i1, i2;
  int g;
  bool grouped, static_groups;
  int ng, maxq;
  const size_t* perm;
  const float* vb;  // V[i1:i2, i1:n] in fp32, row stride ldv
  size_t ldv;
  const double* vjj;  // V_jj
  const double* ujj;  // U_jj = 1 / V_jj
  const double* ugg;  // at a fresh group (non-static groups, not block 0): U's diagonal block of the group
  GridParams* params;
  const GridSpec* grid;
  QuantizedWeight* out;
  double* row_loss;
  float* delta;  // k-major Δ of the block: delta[(j-i1)*m + r] (the lazy GEMM's A operand)
};

// Columns [i1, i2) of rows [r0, r1) (at most 8), j outside the rows so that the rows' scalar chains
// overlap (as gptq.cc's QuantizeBlockRows). The rows' block of S is worked on in a private, aligned
// copy whose row stride is not a multiple of 4 KiB; it is dropped at the end (block columns are never
// read again).
LOWBIT_CLONES
void QuantizeBlockRowsFp32(const Fp32Block& a, size_t r0, size_t r1) {
  const size_t n = a.n, bs = a.i2 - a.i1, ld = ((bs + 15) & ~size_t{15}) + 16;
  thread_local std::vector<float> store;
  thread_local std::vector<double> xs;
  if (store.size() < 8 * ld + 16) store.resize(8 * ld + 16);
  float* const base = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(store.data()) + 63) & ~uintptr_t{63});
  const bool first = a.i1 == 0;
  for (size_t r = r0; r < r1; ++r) {
    float* sb = base + (r - r0) * ld;
    if (first)
      std::fill(sb, sb + bs, 0.0f);
    else
      std::copy(a.s + r * n + a.i1, a.s + r * n + a.i2, sb);
  }
  for (size_t j = a.i1; j < a.i2; ++j) {
    const size_t col = a.perm[j], jl = j - a.i1;
    const double vd = a.vjj[j], ud = a.ujj[j];
    const float* __restrict vj = a.vb + jl * a.ldv;  // V[j, i1 + k]; zero for k < jl
    // From the 16-aligned column at or below j+1 (stable vector chunks, as in gptq.cc); the extra
    // columns ≤ j are already quantized and never read again.
    const size_t k0 = (jl + 1) & ~size_t{15};
    const size_t gi = !a.grouped ? 0 : a.static_groups ? col / a.g : j / a.g;
    const size_t stride = a.grouped ? a.ng : 1;
    // A fresh group starts a block (blocks are cut at group boundaries). Its parameters see GPTQ's
    // W^(j)_c = W_c − Σ_{i<j} E_i·U_ic (c in the group): with C = V[j:, j:] that is W_c + (S·C⁻¹)_c
    // (S over columns ≥ j holds Σ_{i<j} Δ_i·V_ic), and C⁻¹ on the group is U's diagonal block there.
    const bool fresh = a.grouped && !a.static_groups && j % a.g == 0;
    for (size_t r = r0; r < r1; ++r) {
      float* __restrict sb = base + (r - r0) * ld;
      const float* wr = a.w + r * n;
      if (fresh) {
        const size_t len = std::min<size_t>(a.g, n - j);
        if (xs.size() < len) xs.resize(len);
        for (size_t c = 0; c < len; ++c) xs[c] = wr[j + c];
        if (!first)
          for (size_t c0 = 0; c0 < len; ++c0) {
            const double sv = a.s[r * n + j + c0];
            const double* __restrict u = a.ugg + c0 * len;
            for (size_t c = c0; c < len; ++c) xs[c] += sv * u[c];
          }
        a.params[r * stride + gi] = FindParams(xs.data(), len, 1, *a.grid);
      }
      const GridParams p = a.params[r * stride + gi];
      const double x = static_cast<double>(wr[j]) + static_cast<double>(sb[jl]) * ud;
      const int q = QuantizeValue(x, p.scale, p.zero, a.maxq);
      const double qv = static_cast<double>(p.scale) * (q - p.zero);
      a.out->codes[r * n + col] = static_cast<uint8_t>(q);
      a.out->dequant[r * n + col] = static_cast<float>(qv);
      a.row_loss[r] += (x - qv) * (x - qv) * (vd * vd) / 2.0;  // (x − q)²/(2·U_jj²)
      const float d = static_cast<float>(static_cast<double>(wr[j]) - qv);
      a.delta[jl * a.m + r] = d;
      for (size_t k = k0; k < bs; ++k) sb[k] += d * vj[k];
    }
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
  ScratchDoubles v(n * n);  // uninitialized: the factorization writes all of it
  Status st = FactorDamped(hf, diag, n, spec, ctl.threads, v.get(), stats, /*invert=*/false);
  if (!st.ok()) return st;
  std::vector<double> vjj(n), ujj(n);
  for (size_t j = 0; j < n; ++j) {
    vjj[j] = v.get()[j * n + j];
    ujj[j] = 1.0 / vjj[j];
  }
  prof.Mark("factor");
  double t_block[2] = {0.0, 0.0}, t_lazy[2] = {0.0, 0.0};  // wall, cpu
  ScratchFloats s(m * n);  // S; block 0 writes its columns ≥ i2 (beta = 0), so it needs no clearing
  std::vector<double> row_loss(m, 0.0);
  std::vector<float> delta, vb;
  std::vector<double> ugg;
  size_t i1 = 0;
  while (i1 < n) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "GPTQ cancelled at column " + std::to_string(i1));
    size_t i2 = std::min(n, i1 + static_cast<size_t>(spec.block_size));
    if (grouped && !spec.static_groups) i2 = std::min(i2, (i1 / g + 1) * static_cast<size_t>(g));
    const size_t bs = i2 - i1, ldv = n - i1;
    if (delta.size() < bs * m) delta.resize(bs * m);  // every entry of the block is written below
    if (vb.size() < bs * ldv) vb.resize(bs * ldv);
    float* const vbp = vb.data();
    const double* const vp = v.get();
    ParallelFor(bs, ctl.threads, 8, [&](size_t k0, size_t k1) {
      for (size_t k = k0; k < k1; ++k) {
        const double* row = vp + (i1 + k) * n + i1;
        for (size_t c = 0; c < ldv; ++c) vbp[k * ldv + c] = static_cast<float>(row[c]);
      }
    });
    if (grouped && !spec.static_groups && i1 % g == 0 && i1 > 0) {  // U's diagonal block of the fresh group
      const size_t len = std::min<size_t>(g, n - i1);
      ugg.assign(len * len, 0.0);
      for (size_t i = 0; i < len; ++i) std::copy(vp + (i1 + i) * n + i1 + i, vp + (i1 + i) * n + i1 + len, ugg.begin() + i * len + i);
      InvertUpper(ugg.data(), len, ctl.threads);
    }
    const Fp32Block ba{wk, s.get(), n, m, i1, i2, g, grouped, spec.static_groups, ng, maxq, perm.data(), vbp, ldv,
                       vjj.data(), ujj.data(), ugg.data(), params.data(), &spec.grid, out, row_loss.data(), delta.data()};
    ParallelFor(m, ctl.threads, 8, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; r += 8) QuantizeBlockRowsFp32(ba, r, std::min(r1, r + 8));
    });
    prof.Add(t_block);
    if (i2 < n)
      GemmKMajorF32C32(m, n - i2, bs, 1.0, delta.data(), m, vbp + bs, ldv, s.get() + i2, n, ctl.threads,
                       i1 == 0 ? 0.0 : 1.0);
    prof.Add(t_lazy);
    i1 = i2;
    ctl.report(i1, n);
  }
  prof.Report("in-block", t_block);
  prof.Report("lazy", t_lazy);
  for (size_t r = 0; r < m; ++r) {
    stats->loss += row_loss[r];
    for (int gi = 0; gi < ng; ++gi) {
      const GridParams& p = params[r * (grouped ? ng : 1) + (grouped ? gi : 0)];
      out->scales[r * ng + gi] = p.scale;
      out->zeros[r * ng + gi] = static_cast<uint8_t>(p.zero);
    }
  }
  return Status::Ok();
}

}  // namespace lowbit
