// R1-FLR with the FLRQ authors' rank rule (get_best_sketch_fp8_ret in r1_sketch.py of
// github.com/grysgreat/Sketch_lopro; docs/decisions.md "FLRQ revisited"). Rewritten from its
// description, not copied:
// - the sketch runs on T = aᵀ (their W_scale_T = diag(s)·Wᵀ): the random start has `rows` entries and
//   the power iteration's range vector p lives on the input side;
// - each component is σ·p ⊗ q with the unit vectors p, q rounded to fp8 e5m2 and σ·p to fp16, and
//   that rounded component is what the residual loses;
// - after component i (0-based), with w_i the residual's amax, P = w_0/w_i,
//   K = 1 + 12(i+1)(m+n)/(d·m·n), Q = (d + log2 P)/d:
//     i ≥ 16 and (w_{i−16} − w_i)/w_{i−16} < 0.1  →  keep i − 8, stop
//     K > 1 + x                                    →  keep i, stop
//     K ≥ Q and i > sketch_iters                   →  keep i − 1, stop
//     otherwise keep i (so component i counts only once component i+1 passes);
// - afterwards at least 1 is kept, but 0 when the kept ranks lower amax by under 10% (or not at all).
#include <algorithm>
#include <cmath>
#include <string>

#include "lowbit/binarize.h"
#include "lowbit/lowrank.h"
#include "lowbit/lowrank_internal.h"
#include "lowbit/lowrank_parallel.h"
#include "lowbit/sketch.h"

namespace lowbit {

double RoundE5m2(double x) {
  if (x == 0 || !std::isfinite(x)) return x;
  if (std::fabs(x) < 0x1p-14) return std::nearbyint(x * 0x1p16) * 0x1p-16;  // subnormals: quantum 2^-16
  int e = 0;
  const double m = std::frexp(x, &e);  // |m| in [0.5, 1): 3 significant bits = m·8 rounded
  const double r = std::ldexp(std::nearbyint(m * 8) / 8, e);
  return std::min(57344.0, std::max(-57344.0, r));
}

Status R1FlrAuthors(const double* a, int rows, int cols, const FlrqOptions& opt, const JobControl& ctl,
                    std::vector<double>* L, std::vector<double>* R, int* rank, std::vector<double>* curve) {
  const size_t mn = (size_t)rows * cols;
  // T = aᵀ: cols×rows.
  std::vector<double> t(mn);
  for (int x = 0; x < rows; ++x)
    for (int c = 0; c < cols; ++c) t[(size_t)c * rows + x] = a[(size_t)x * cols + c];
  std::vector<double> left(cols), right(rows);
  std::vector<std::vector<double>> ps, qs;  // per component: σ·p (cols, fp16) and q (rows, e5m2)
  curve->clear();
  const double w0 = Amax(t);
  curve->push_back(w0);
  SketchRng rng(opt.seed);
  const double d = opt.bits;
  const int max_rank = std::min({opt.max_rank, rows, cols});
  int keep = 0, tried = 0;
  for (int i = 0; i < max_rank && w0 > 0; ++i) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "flrq: cancelled at rank " + std::to_string(i + 1));
    R1SketchComponent(t.data(), cols, rows, opt.sketch_iters, &rng, ctl.threads, left.data(), right.data());
    double sigma = 0;
    for (double v : left) sigma += v * v;
    sigma = std::sqrt(sigma);
    for (double& v : left) v = sigma > 0 ? (double)RoundToFp16(RoundE5m2(v / sigma) * sigma) : 0.0;
    for (double& v : right) v = RoundE5m2(v);
    ParallelRows((size_t)cols, ctl.threads, [&](size_t b, size_t e) {
      for (size_t c = b; c < e; ++c)
        for (int x = 0; x < rows; ++x) t[c * rows + x] -= left[c] * right[x];
    });
    ps.push_back(left);
    qs.push_back(right);
    ++tried;
    const double wi = Amax(t);
    curve->push_back(wi);
    const double P = wi > 0 ? w0 / wi : INFINITY;
    const double K = 1 + 12.0 * (i + 1) * (rows + cols) / (d * (double)mn);
    const double Q = (d + std::log2(P)) / d;
    if (i >= 16) {
      const double prev = (*curve)[i - 16 + 1];  // w_{i−16} (curve[0] is w_0 before any component)
      if (prev > 0 && (prev - wi) / prev < 0.1) { keep = i - 8; break; }
    }
    if (K > 1 + opt.budget_x) { keep = i; break; }
    if (K >= Q && i > opt.sketch_iters) { keep = i - 1; break; }
    keep = i;
  }
  if (tried > 0 && keep == 0) keep = 1;
  if (keep > 0) {
    const double wk = (*curve)[keep];  // amax after the kept components
    if ((w0 - wk) / w0 < 0.1 || w0 <= wk) keep = 0;
  }
  *rank = keep;
  L->assign((size_t)rows * keep, 0.0);
  R->assign((size_t)keep * cols, 0.0);
  for (int k = 0; k < keep; ++k) {  // a = Tᵀ ≈ Σ q ⊗ (σ·p): L column k = q, R row k = σ·p
    for (int x = 0; x < rows; ++x) (*L)[(size_t)x * keep + k] = qs[k][x];
    std::copy(ps[k].begin(), ps[k].end(), R->begin() + (size_t)k * cols);
  }
  return Status::Ok();
}

}  // namespace lowbit
