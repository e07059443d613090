// GPTQ / GPTAQ / SparseGPT solve in fp64 working precision (see gptq.h); the default GPTQ solve
// (no pruning, no GPTAQ, not fp64_updates) is gptq_fp32.cc's. Layout: W is rows×cols row-major in
// fp64; inside a block every row runs its own column loop (rows are independent there), so rows are
// threaded, 8 rows interleaved per thread; the lazy update W[:, i2:] -= Err·U[i1:i2, i2:] is one GEMM
// call with Err stored k-major (block×rows). H is never copied (the damped diagonal is passed to the
// factorization). For SparseGPT and GPTAQ the lazy update (most of the flops) multiplies fp32-rounded
// Err and U tiles in fp32 FMA chains (≤ 256 long) and adds them to W in fp64 (GemmKMajorF32), and so
// do the factorization's rank-128 updates (cholesky.cc), unless spec.fp64_updates asks for the exact
// fp64 solve the float64 reference tests compare against. GPTAQ adds −Q_blk·P[i1:i2, i2:] to the same
// GEMM (k doubled). The fp64 W copy and the n×n factor come from the scratch pool (scratch.h).
#include "lowbit/gptq.h"
#include "lowbit/gptq_fp32.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "lowbit/clones.h"
#include "lowbit/cholesky.h"
#include "lowbit/finite_scan.h"
#include "lowbit/gemm.h"
#include "lowbit/parallel.h"
#include "lowbit/phase_timer.h"
#include "lowbit/scratch.h"

namespace lowbit {

// Factor H (n×n, diagonal taken from diag: dead columns already set to 1) with damping; on failure
// retry with percdamp ×10 (see gptq_fp32.h). H itself is never copied: the damped diagonal is passed separately.
namespace {

// Runs factor(dd) with dd = diag + damp·mean(diag), damp = percdamp ×10 per failed attempt.
template <typename Factor>
Status WithDampRetries(const std::vector<double>& diag, size_t n, const GptqSpec& spec, GptqStats* stats,
                       Factor factor) {
  double mean = 0.0;
  for (size_t j = 0; j < n; ++j) mean += diag[j];
  mean /= static_cast<double>(n);
  double damp = spec.percdamp;
  std::vector<double> dd(n);
  for (int attempt = 0; attempt <= spec.max_damp_retries; ++attempt, damp *= 10.0) {
    for (size_t j = 0; j < n; ++j) dd[j] = diag[j] + damp * mean;
    if (factor(dd.data())) {
      stats->percdamp = damp;
      stats->damp_retries = attempt;
      return Status::Ok();
    }
  }
  return Status::Error(Code::kNumeric, "Hessian is not positive definite even with percdamp " + std::to_string(damp / 10.0) +
                                           " after " + std::to_string(spec.max_damp_retries) + " retries");
}

}  // namespace

Status FactorDamped(const double* h, const std::vector<double>& diag, size_t n, const GptqSpec& spec, int threads,
                    double* u, GptqStats* stats) {
  // fp64_updates keeps every product fp64 (the float64 reference tests); otherwise the rank-128
  // updates are fp32 products summed in fp64.
  return WithDampRetries(diag, n, spec, stats,
                         [&](const double* dd) { return InverseCholeskyUpper(h, n, dd, u, threads, !spec.fp64_updates); });
}

Status FactorDampedF32(const double* h, const std::vector<double>& diag, size_t n, const GptqSpec& spec, int threads,
                       float* v, GptqStats* stats) {
  return WithDampRetries(diag, n, spec, stats,
                         [&](const double* dd) { return ReversedCholeskyUpperF32(h, n, dd, v, threads); });
}

void StoreRowResults(const std::vector<GridParams>& params, const std::vector<double>& row_loss, int ng, bool grouped,
                     QuantizedWeight* out, GptqStats* stats) {
  for (size_t r = 0; r < row_loss.size(); ++r) {
    stats->loss += row_loss[r];
    for (int gi = 0; gi < ng; ++gi) {
      const GridParams& p = params[r * (grouped ? ng : 1) + (grouped ? gi : 0)];
      out->scales[r * ng + gi] = p.scale;
      out->zeros[r * ng + gi] = static_cast<uint8_t>(p.zero);
    }
  }
}

namespace {

Status CheckHessian(const double* h, int cols, int threads) {
  const size_t n = static_cast<size_t>(cols);
  const size_t i = FirstNonFinite(h, n * n, threads);
  if (i < n * n)
    return Status::Error(Code::kNumeric, "Hessian is not finite at (" + std::to_string(i / n) + ", " + std::to_string(i % n) + ")");
  for (size_t j = 0; j < n; ++j) {
    if (h[j * n + j] < 0) return Status::Error(Code::kNumeric, "Hessian diagonal is negative at column " + std::to_string(j));
  }
  return Status::Ok();
}

struct BlockArgs {
  double* wd;
  size_t n, m, i1, i2;
  int g;
  bool grouped, static_groups;
  int ng, maxq;
  const size_t* perm;
  const double* u;
  GridParams* params;
  const GridSpec* grid;
  QuantizedWeight* out;
  double* row_loss;
  double* err;  // k-major: err[(j-i1)*m + r]
  const double* p;  // GPTAQ's P (n×n, strictly upper) or null for GPTQ
  double* qblk;     // GPTAQ: k-major rounded values qblk[(j-i1)*m + r]
  const PruneSpec* prune;
  uint8_t* keep;  // rows×n, 1 = kept; null = no pruning
};

// SparseGPT's unstructured mask of block [i1, i2): the round(ratio·rows·bs) smallest w²/U_jj² over
// all rows of the block (sparsegpt.py: per block, from the weights as updated so far).
void BlockMask(const double* wd, size_t m, size_t n, size_t i1, size_t i2, const double* u, double ratio, uint8_t* keep) {
  const size_t bs = i2 - i1;
  std::vector<double> score(m * bs);
  std::vector<uint8_t> k(m * bs);
  for (size_t r = 0; r < m; ++r)
    for (size_t j = i1; j < i2; ++j) {
      const double d = u[j * n + j], x = wd[r * n + j];
      score[r * bs + (j - i1)] = x * x / (d * d);
    }
  MarkSmallest(score.data(), m * bs, static_cast<size_t>(std::floor(ratio * static_cast<double>(m * bs))), k.data());
  for (size_t r = 0; r < m; ++r) std::copy(&k[r * bs], &k[r * bs] + bs, keep + r * n + i1);
}

// Columns [i1, i2) of rows [r0, r1) (at most 8): quantize column j of each row, then spread its error
// over the rest of the block (W1[r, j+1:i2] -= e·U[j, j+1:i2]). Rows are independent; j runs outside
// the rows so that the latency-bound scalar chains (divide, round, divide) of several rows overlap.
// Multiversioned so the update loop runs on AVX-512 / AVX2 vectors.
LOWBIT_CLONES
void QuantizeBlockRows(const BlockArgs& a, size_t r0, size_t r1) {
  const size_t n = a.n;
  // The rows' block columns are worked on in a private copy whose row stride is not a multiple of
  // 4 KiB (rows of W are n·8 bytes apart, so row r+1's loads would falsely alias row r's pending
  // stores). The updated copy is dropped at the end: columns [i1, i2) are never read again (the
  // next group's parameters are computed at its own block start, from W).
  const size_t bs = a.i2 - a.i1, ld = ((bs + 7) & ~size_t{7}) + 8;
  thread_local std::vector<double> store;
  if (store.size() < 8 * ld + 8) store.resize(8 * ld + 8);
  double* const base = reinterpret_cast<double*>((reinterpret_cast<uintptr_t>(store.data()) + 63) & ~uintptr_t{63});
  for (size_t r = r0; r < r1; ++r) std::copy(a.wd + r * n + a.i1, a.wd + r * n + a.i2, base + (r - r0) * ld);
  for (size_t j = a.i1; j < a.i2; ++j) {
    const size_t col = a.perm[j];
    const double d = a.u[j * n + j];
    const double* __restrict uj = a.u + j * n + a.i1;
    // Sweep k from the 8-aligned (relative to i1) column at or below j+1, so that consecutive j store
    // and reload the same vector chunks (a start shifting by one element per j defeats store-to-load
    // forwarding). The extra k ≤ j are columns already quantized, never read again; U[j][k<j] = 0.
    const size_t k0 = (j + 1 - a.i1) & ~size_t{7}, kend = bs, jl = j - a.i1;
    // Group of column j (integer divisions hoisted out of the row loop).
    const size_t gi = !a.grouped ? 0 : a.static_groups ? col / a.g : j / a.g;
    const size_t stride = a.grouped ? a.ng : 1;
    const bool fresh = a.grouped && !a.static_groups && j % a.g == 0;
    const bool nm_start = a.keep && a.prune->structured() && j % static_cast<size_t>(a.prune->m) == 0;
    for (size_t r = r0; r < r1; ++r) {
      double* __restrict wb = base + (r - r0) * ld;  // 64-byte aligned: the vector stores never split
      if (fresh) a.params[r * stride + gi] = FindParams(a.wd + r * n + j, std::min<size_t>(a.g, n - j), 1, *a.grid);
      const GridParams p = a.params[r * stride + gi];
      const double x = wb[jl];
      if (nm_start) {  // N:M: the n smallest w²/U_kk² of this row's next m columns, as updated so far
        const size_t mm = static_cast<size_t>(a.prune->m);
        double score[64];
        for (size_t t = 0; t < mm; ++t) {
          const double dk = a.u[(j + t) * n + j + t], xk = wb[jl + t];
          score[t] = xk * xk / (dk * dk);
        }
        MarkSmallest(score, mm, static_cast<size_t>(a.prune->n), a.keep + r * n + col);
      }
      int q;
      double qv;
      if (a.keep && !a.keep[r * n + col]) {
        q = p.zero;  // pruned: exactly 0 on any grid (the grid always contains 0)
        qv = 0.0;
      } else if (a.keep && !a.prune->quantize) {
        q = p.zero;
        qv = x;
      } else {
        q = QuantizeValue(x, p.scale, p.zero, a.maxq);
        qv = static_cast<double>(p.scale) * (q - p.zero);
      }
      a.out->codes[r * n + col] = static_cast<uint8_t>(q);
      a.out->dequant[r * n + col] = static_cast<float>(qv);
      a.row_loss[r] += (x - qv) * (x - qv) / (2.0 * d * d);
      const double e = (x - qv) / d;
      a.err[jl * a.m + r] = e;
      if (a.p) {  // GPTAQ: W1[r, k] -= e·U[j,k] − w·P[j,k], w the column's value before rounding
        // (GPTQ's update first, then the P term: with P = 0 the result is GPTQ's bit for bit, FMA
        // contraction or not, since fma(x, 0, t) = t.)
        const double* __restrict pj = a.p + j * n + a.i1;
        a.qblk[jl * a.m + r] = qv;
        for (size_t k = k0; k < kend; ++k) {
          const double t = wb[k] - e * uj[k];
          wb[k] = t + x * pj[k];
        }
      } else {
        for (size_t k = k0; k < kend; ++k) wb[k] -= e * uj[k];
      }
    }
  }
}

// GPTAQ's P = α·triu₁(D·Uᵀ)·U (n×n, strictly upper) in fp64, D already permuted and with dead
// columns zeroed. Two GemmKMajor calls (k-major operands are the transposes Dᵀ and Tᵀ).
std::vector<double> GptaqP(const std::vector<double>& dm, const double* u, size_t n, double alpha, int threads) {
  std::vector<double> at(n * n), bt(n * n), c(n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < n; ++k) {
      at[k * n + i] = dm[i * n + k];  // Dᵀ
      bt[k * n + i] = u[i * n + k];   // Uᵀ: B(k, j) = U[j][k]
    }
  GemmKMajor(n, n, n, 1.0, at.data(), n, bt.data(), n, c.data(), n, threads, /*upper_only=*/true, 0.0);  // C = D·Uᵀ
  for (size_t k = 0; k < n; ++k)
    for (size_t i = 0; i < n; ++i) at[k * n + i] = k > i ? c[i * n + k] : 0.0;  // (triu₁ C)ᵀ
  GemmKMajor(n, n, n, alpha, at.data(), n, u, n, c.data(), n, threads, false, 0.0);
  return c;
}

Status Solve(const float* w, int rows, int cols, const double* h, const double* dx, const GptqSpec& spec_in,
             const JobControl& ctl, QuantizedWeight* out, GptqStats* stats, bool naive) {
  GptqSpec spec = spec_in;
  PhaseTimer prof("gptq");
  Status st = CheckWeight(w, rows, cols, spec.grid.bits, spec.group_size, ctl.threads);
  if (!st.ok()) return st;
  if (spec.block_size <= 0) return Status::Error(Code::kArg, "blockSize must be positive");
  if (!(spec.percdamp >= 0) || !std::isfinite(spec.percdamp)) return Status::Error(Code::kArg, "damp must be a finite number ≥ 0");
  st = CheckHessian(h, cols, ctl.threads);
  if (!st.ok()) return st;
  if (dx) {
    if (!std::isfinite(spec.gptaq_alpha)) return Status::Error(Code::kArg, "GPTAQ alpha must be finite");
    const size_t nn = static_cast<size_t>(cols) * cols;
    bool zero = true;
    for (size_t i = 0; i < nn; ++i) {
      if (!std::isfinite(dx[i]))
        return Status::Error(Code::kNumeric, "GPTAQ cross statistic is not finite at (" + std::to_string(i / cols) + ", " +
                                                 std::to_string(i % cols) + ")");
      zero &= dx[i] == 0.0;
    }
    // D = 0 (x̃ = x, e.g. the first block): P = 0 and GPTAQ is GPTQ; the same solve, so bit for bit.
    if (zero) dx = nullptr;
  }
  const size_t m = rows, n = cols;
  const int g = EffectiveGroup(spec.group_size, cols);
  const bool grouped = g < cols;
  const bool pruning = spec.prune.active();
  if (pruning) {
    st = CheckPrune(spec.prune, cols);
    if (!st.ok()) return st;
    if (spec.act_order) return Status::Error(Code::kArg, "SparseGPT runs without act-order");
    if (spec.prune.structured() && spec.prune.m > 64) return Status::Error(Code::kArg, "N:M sparsity supports M ≤ 64");
    if (spec.prune.structured() && (spec.block_size % spec.prune.m != 0 || (EffectiveGroup(spec.group_size, cols) % spec.prune.m != 0)))
      return Status::Error(Code::kArg, "N:M sparsity needs the block size and the group size to be multiples of M (" +
                                           std::to_string(spec.prune.m) + ")");
    stats->keep.assign(static_cast<size_t>(rows) * cols, 1);
  }
  if (grouped && spec.act_order) spec.static_groups = true;  // exportable without g_idx
  const int maxq = (1 << spec.grid.bits) - 1;
  prof.Mark("checks");
  out->Allocate(rows, cols, spec.grid.bits, g, spec.grid.symmetric, ctl.threads);
  prof.Mark("outputs");
  // The default GPTQ solve runs in fp32 working precision (gptq_fp32.cc); this file's fp64 solve
  // serves fp64_updates (exact), SparseGPT, GPTAQ and the naive benchmark baseline.
  if (!spec.fp64_updates && !pruning && !dx && !naive) return SolveGptqFp32(w, m, n, h, spec, g, ctl, out, stats, prof);
  const int ng = out->num_groups();

  ScratchDoubles wd_buf(m * n);  // fp64 working copy, converted in parallel (pooled: see scratch.h)
  double* const wd = wd_buf.get();
  ParallelFor(m, ctl.threads, 16, [&](size_t r0, size_t r1) { std::copy(w + r0 * n, w + r1 * n, wd + r0 * n); });
  // H is only read (its diagonal, with dead columns set to 1, lives in diag); act-order works on a
  // permuted copy.
  std::vector<double> diag(n), hperm;
  for (size_t j = 0; j < n; ++j) diag[j] = h[j * n + j];
  // Per-row parameters on the original W (before dead columns are zeroed), as the reference.
  std::vector<GridParams> params(m * ng);
  if (!grouped)
    for (size_t r = 0; r < m; ++r) params[r] = FindParams(w + r * n, n, 1, spec.grid);
  for (size_t j = 0; j < n; ++j) {
    if (diag[j] == 0.0) {
      diag[j] = 1.0;
      for (size_t r = 0; r < m; ++r) wd[r * n + j] = 0.0;
    }
  }
  if (grouped && spec.static_groups)
    for (size_t r = 0; r < m; ++r)
      for (int gi = 0; gi < ng; ++gi)
        params[r * ng + gi] = FindParams(wd + r * n + gi * g, std::min(g, cols - gi * g), 1, spec.grid);
  // Act-order: stable sort by decreasing diag(H); permute W's columns and both axes of H.
  std::vector<size_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  const double* hf = h;
  if (spec.act_order) {
    std::stable_sort(perm.begin(), perm.end(), [&](size_t a, size_t b) { return diag[a] > diag[b]; });
    hperm.resize(n * n);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) hperm[i * n + j] = h[perm[i] * n + perm[j]];
    std::vector<double> t(n);
    for (size_t i = 0; i < n; ++i) t[i] = diag[perm[i]];
    diag.swap(t);
    hf = hperm.data();
    std::vector<double> row(n);
    for (size_t r = 0; r < m; ++r) {
      for (size_t j = 0; j < n; ++j) row[j] = wd[r * n + perm[j]];
      std::copy(row.begin(), row.end(), wd + r * n);
    }
  }
  prof.Mark("prepare");
  ScratchDoubles u(n * n);  // uninitialized: the factorization writes all of it
  st = FactorDamped(hf, diag, n, spec, ctl.threads, u.get(), stats);
  if (!st.ok()) return st;
  std::vector<double> pmat;  // GPTAQ's P (permuted order), empty for GPTQ
  if (dx) {
    std::vector<double> dm(n * n);  // D[:, dead] = 0, both axes permuted (authors: dXXT[perm][:, perm])
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j)
        dm[i * n + j] = h[perm[j] * n + perm[j]] == 0.0 ? 0.0 : dx[perm[i] * n + perm[j]];
    pmat = GptaqP(dm, u.get(), n, spec.gptaq_alpha, ctl.threads);
  }
  prof.Mark("factor");
  const bool gptaq = !pmat.empty();
  double t_block[3] = {0.0, 0.0, 0.0}, t_lazy[3] = {0.0, 0.0, 0.0};  // wall, cpu, page faults
  const size_t kmul = gptaq ? 2 : 1;  // GEMM depth per block: [Err; −Q_blk] against [U; P]

  std::vector<double> row_loss(m, 0.0);
  std::vector<double> err;  // k-major: err[(j-i1)*m + r], then (GPTAQ) the block's rounded values
  std::vector<float> a32, b32;  // fp32 lazy update operands: [Err; −Q_blk] (k-major) and [U; P] rows
  size_t i1 = 0;
  while (i1 < n) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "GPTQ cancelled at column " + std::to_string(i1));
    size_t i2 = std::min(n, i1 + static_cast<size_t>(spec.block_size));
    if (grouped && !spec.static_groups) i2 = std::min(i2, (i1 / g + 1) * static_cast<size_t>(g));
    const size_t bs = i2 - i1;
    if (err.size() < kmul * bs * m) err.resize(kmul * bs * m);  // every entry of the block is written below
    uint8_t* keep = pruning ? stats->keep.data() : nullptr;
    if (pruning && !spec.prune.structured()) BlockMask(wd, m, n, i1, i2, u.get(), spec.prune.ratio, keep);
    BlockArgs ba{wd, n, m, i1, i2, g, grouped, spec.static_groups, ng, maxq, perm.data(), u.get(),
                 params.data(), &spec.grid, out, row_loss.data(), err.data(),
                 gptaq ? pmat.data() : nullptr, gptaq ? err.data() + bs * m : nullptr, &spec.prune, keep};
    ParallelFor(m, ctl.threads, 8, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; r += 8) QuantizeBlockRows(ba, r, std::min(r1, r + 8));
    });
    prof.Add(t_block);
    if (i2 < n) {
      const size_t w2 = n - i2;
      if (naive) {
        GemmKMajorNaive(m, w2, bs, -1.0, err.data(), m, u.get() + i1 * n + i2, n, wd + i2, n);
        if (gptaq) GemmKMajorNaive(m, w2, bs, 1.0, err.data() + bs * m, m, pmat.data() + i1 * n + i2, n, wd + i2, n);
      } else if (spec.fp64_updates) {
        GemmKMajor(m, w2, bs, -1.0, err.data(), m, u.get() + i1 * n + i2, n, wd + i2, n, ctl.threads);
        if (gptaq) GemmKMajor(m, w2, bs, 1.0, err.data() + bs * m, m, pmat.data() + i1 * n + i2, n, wd + i2, n, ctl.threads);
      } else {
        // W[:, i2:] += [−Err, Q_blk]·[U; P] rows i1..i2: one fp32 GEMM of depth kmul·bs into fp64 W.
        const size_t kd = kmul * bs;
        if (a32.size() < kd * m) a32.resize(kd * m);
        if (b32.size() < kd * w2) b32.resize(kd * w2);
        float* const ap = a32.data();
        float* const bp = b32.data();
        const double* const src = err.data();
        ParallelFor(kd, ctl.threads, 8, [&](size_t k0, size_t k1) {
          for (size_t k = k0; k < k1; ++k) {
            const double sign = k < bs ? -1.0 : 1.0;
            for (size_t r = 0; r < m; ++r) ap[k * m + r] = static_cast<float>(sign * src[k * m + r]);
            const double* row = (k < bs ? u.get() + (i1 + k) * n : pmat.data() + (i1 + k - bs) * n) + i2;
            for (size_t c = 0; c < w2; ++c) bp[k * w2 + c] = static_cast<float>(row[c]);
          }
        });
        GemmKMajorF32(m, w2, kd, 1.0, ap, m, bp, w2, wd + i2, n, ctl.threads);
      }
    }
    prof.Add(t_lazy);
    i1 = i2;
    ctl.report(i1, n);
  }
  prof.Report("in-block", t_block);
  prof.Report("lazy", t_lazy);
  StoreRowResults(params, row_loss, ng, grouped, out, stats);
  return Status::Ok();
}

}  // namespace

Status QuantizeGptq(const float* w, int rows, int cols, const double* h, const GptqSpec& spec,
                    const JobControl& ctl, QuantizedWeight* out, GptqStats* stats) {
  return Solve(w, rows, cols, h, nullptr, spec, ctl, out, stats, false);
}

Status QuantizeGptaq(const float* w, int rows, int cols, const double* h, const double* d, const GptqSpec& spec,
                     const JobControl& ctl, QuantizedWeight* out, GptqStats* stats) {
  return Solve(w, rows, cols, h, d, spec, ctl, out, stats, false);
}

Status QuantizeGptqNaive(const float* w, int rows, int cols, const double* h, const GptqSpec& spec,
                         const JobControl& ctl, QuantizedWeight* out, GptqStats* stats) {
  return Solve(w, rows, cols, h, nullptr, spec, ctl, out, stats, true);
}

}  // namespace lowbit
