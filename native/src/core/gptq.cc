// GPTQ solve (see gptq.h). Layout: W is rows×cols row-major in fp64; inside a block every row runs
// its own column loop (rows are independent there), so rows are threaded; the lazy update
// W[:, i2:] -= Err·U[i1:i2, i2:] is one GemmKMajor call with Err stored k-major (block×rows).
#include "lowbit/gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "lowbit/cholesky.h"
#include "lowbit/gemm.h"
#include "lowbit/parallel.h"

namespace lowbit {
namespace {

Status CheckHessian(const double* h, int cols) {
  const size_t n = static_cast<size_t>(cols);
  for (size_t i = 0; i < n * n; ++i) {
    if (!std::isfinite(h[i])) {
      return Status::Error(Code::kNumeric, "Hessian is not finite at (" + std::to_string(i / n) + ", " +
                                               std::to_string(i % n) + ")");
    }
  }
  for (size_t j = 0; j < n; ++j) {
    if (h[j * n + j] < 0) return Status::Error(Code::kNumeric, "Hessian diagonal is negative at column " + std::to_string(j));
  }
  return Status::Ok();
}

// Factor with damping; on failure retry with percdamp ×10.
Status FactorDamped(std::vector<double>& hp, size_t n, const GptqSpec& spec, int threads,
                    std::vector<double>* u, GptqStats* stats) {
  double mean = 0.0;
  for (size_t j = 0; j < n; ++j) mean += hp[j * n + j];
  mean /= static_cast<double>(n);
  double damp = spec.percdamp;
  std::vector<double> hd(n * n);
  for (int attempt = 0; attempt <= spec.max_damp_retries; ++attempt, damp *= 10.0) {
    std::copy(hp.begin(), hp.end(), hd.begin());
    for (size_t j = 0; j < n; ++j) hd[j * n + j] += damp * mean;
    if (InverseCholeskyUpper(hd.data(), n, u, threads)) {
      stats->percdamp = damp;
      stats->damp_retries = attempt;
      hp.swap(hd);  // callers see the damped H
      return Status::Ok();
    }
  }
  return Status::Error(Code::kNumeric, "Hessian is not positive definite even with percdamp " + std::to_string(damp / 10.0) +
                                           " after " + std::to_string(spec.max_damp_retries) + " retries");
}

Status Solve(const float* w, int rows, int cols, const double* h, const GptqSpec& spec_in,
             const JobControl& ctl, QuantizedWeight* out, GptqStats* stats, bool naive) {
  GptqSpec spec = spec_in;
  Status st = CheckWeight(w, rows, cols, spec.grid.bits, spec.group_size);
  if (!st.ok()) return st;
  if (spec.block_size <= 0) return Status::Error(Code::kArg, "blockSize must be positive");
  if (!(spec.percdamp >= 0) || !std::isfinite(spec.percdamp)) return Status::Error(Code::kArg, "damp must be a finite number ≥ 0");
  st = CheckHessian(h, cols);
  if (!st.ok()) return st;
  const size_t m = rows, n = cols;
  const int g = EffectiveGroup(spec.group_size, cols);
  const bool grouped = g < cols;
  if (grouped && spec.act_order) spec.static_groups = true;  // exportable without g_idx
  const int maxq = (1 << spec.grid.bits) - 1;
  out->Allocate(rows, cols, spec.grid.bits, g, spec.grid.symmetric);
  const int ng = out->num_groups();

  std::vector<double> wd(w, w + m * n);
  std::vector<double> hp(h, h + n * n);
  // Per-row parameters on the original W (before dead columns are zeroed), as the reference.
  std::vector<GridParams> params(m * ng);
  if (!grouped)
    for (size_t r = 0; r < m; ++r) params[r] = FindParams(w + r * n, n, 1, spec.grid);
  for (size_t j = 0; j < n; ++j) {
    if (hp[j * n + j] == 0.0) {
      hp[j * n + j] = 1.0;
      for (size_t r = 0; r < m; ++r) wd[r * n + j] = 0.0;
    }
  }
  if (grouped && spec.static_groups)
    for (size_t r = 0; r < m; ++r)
      for (int gi = 0; gi < ng; ++gi)
        params[r * ng + gi] = FindParams(wd.data() + r * n + gi * g, std::min(g, cols - gi * g), 1, spec.grid);
  // Act-order: stable sort by decreasing diag(H); permute W's columns and both axes of H.
  std::vector<size_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  if (spec.act_order) {
    std::stable_sort(perm.begin(), perm.end(), [&](size_t a, size_t b) { return hp[a * n + a] > hp[b * n + b]; });
    std::vector<double> t(n * n);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) t[i * n + j] = hp[perm[i] * n + perm[j]];
    hp.swap(t);
    std::vector<double> row(n);
    for (size_t r = 0; r < m; ++r) {
      for (size_t j = 0; j < n; ++j) row[j] = wd[r * n + perm[j]];
      std::copy(row.begin(), row.end(), wd.begin() + r * n);
    }
  }
  std::vector<double> u;
  st = FactorDamped(hp, n, spec, ctl.threads, &u, stats);
  if (!st.ok()) return st;

  std::vector<double> row_loss(m, 0.0);
  std::vector<double> err;  // k-major: err[(j-i1)*m + r]
  size_t i1 = 0;
  while (i1 < n) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "GPTQ cancelled at column " + std::to_string(i1));
    size_t i2 = std::min(n, i1 + static_cast<size_t>(spec.block_size));
    if (grouped && !spec.static_groups) i2 = std::min(i2, (i1 / g + 1) * static_cast<size_t>(g));
    const size_t bs = i2 - i1;
    err.assign(bs * m, 0.0);
    ParallelFor(m, ctl.threads, 8, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) {
        double* wr = wd.data() + r * n;
        for (size_t j = i1; j < i2; ++j) {
          const size_t col = perm[j];
          GridParams p;
          if (!grouped) {
            p = params[r];
          } else if (spec.static_groups) {
            p = params[r * ng + col / g];
          } else {
            if (j % g == 0) params[r * ng + j / g] = FindParams(wr + j, std::min<size_t>(g, n - j), 1, spec.grid);
            p = params[r * ng + j / g];
          }
          const double x = wr[j], d = u[j * n + j];
          const int q = QuantizeValue(x, p.scale, p.zero, maxq);
          const double qv = static_cast<double>(p.scale) * (q - p.zero);
          out->codes[r * n + col] = static_cast<uint8_t>(q);
          out->dequant[r * n + col] = static_cast<float>(qv);
          row_loss[r] += (x - qv) * (x - qv) / (2.0 * d * d);
          const double e = (x - qv) / d;
          err[(j - i1) * m + r] = e;
          const double* uj = u.data() + j * n;
          for (size_t k = j + 1; k < i2; ++k) wr[k] -= e * uj[k];
        }
      }
    });
    if (i2 < n) {
      if (naive) GemmKMajorNaive(m, n - i2, bs, -1.0, err.data(), m, u.data() + i1 * n + i2, n, wd.data() + i2, n);
      else GemmKMajor(m, n - i2, bs, -1.0, err.data(), m, u.data() + i1 * n + i2, n, wd.data() + i2, n, ctl.threads);
    }
    i1 = i2;
    ctl.report(i1, n);
  }
  for (size_t r = 0; r < m; ++r) {
    stats->loss += row_loss[r];
    for (int gi = 0; gi < ng; ++gi) {
      out->scales[r * ng + gi] = params[r * (grouped ? ng : 1) + (grouped ? gi : 0)].scale;
      out->zeros[r * ng + gi] = static_cast<uint8_t>(params[r * (grouped ? ng : 1) + (grouped ? gi : 0)].zero);
    }
  }
  return Status::Ok();
}

}  // namespace

Status QuantizeGptq(const float* w, int rows, int cols, const double* h, const GptqSpec& spec,
                    const JobControl& ctl, QuantizedWeight* out, GptqStats* stats) {
  return Solve(w, rows, cols, h, spec, ctl, out, stats, false);
}

Status QuantizeGptqNaive(const float* w, int rows, int cols, const double* h, const GptqSpec& spec,
                         const JobControl& ctl, QuantizedWeight* out, GptqStats* stats) {
  return Solve(w, rows, cols, h, spec, ctl, out, stats, true);
}

}  // namespace lowbit
