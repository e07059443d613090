// Float64 symmetric eigen solver (Householder tridiagonalization + implicit QL, after the EISPACK
// tred2/tql2 procedures as published in JAMA, public domain) and a thin SVD from the Gram matrix.
#include "lowbit/svd.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "lowbit/lowrank_parallel.h"

namespace lowbit {

namespace {

// Tridiagonalizes the symmetric matrix held in V (n×n); d/e get the diagonal and
// sub-diagonal, V the accumulated orthogonal transform (columns).
void Tred2(std::vector<double>& V, int n, std::vector<double>& d, std::vector<double>& e) {
  // Column-major accessor: the inner loops of tred2 run down columns, which are then contiguous;
  // the input is symmetric, and the result lands already transposed (eigenvectors as rows).
  auto v = [&](int i, int j) -> double& { return V[(size_t)j * n + i]; };
  for (int j = 0; j < n; ++j) d[j] = v(n - 1, j);
  for (int i = n - 1; i > 0; --i) {
    double scale = 0, h = 0;
    for (int k = 0; k < i; ++k) scale += std::fabs(d[k]);
    if (scale == 0) {
      e[i] = d[i - 1];
      for (int j = 0; j < i; ++j) { d[j] = v(i - 1, j); v(i, j) = 0; v(j, i) = 0; }
    } else {
      for (int k = 0; k < i; ++k) { d[k] /= scale; h += d[k] * d[k]; }
      double f = d[i - 1], g = std::sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (int j = 0; j < i; ++j) e[j] = 0;
      for (int j = 0; j < i; ++j) {
        f = d[j];
        v(j, i) = f;
        g = e[j] + v(j, j) * f;
        for (int k = j + 1; k <= i - 1; ++k) { g += v(k, j) * d[k]; e[k] += v(k, j) * f; }
        e[j] = g;
      }
      f = 0;
      for (int j = 0; j < i; ++j) { e[j] /= h; f += e[j] * d[j]; }
      double hh = f / (h + h);
      for (int j = 0; j < i; ++j) e[j] -= hh * d[j];
      for (int j = 0; j < i; ++j) {
        f = d[j]; g = e[j];
        for (int k = j; k <= i - 1; ++k) v(k, j) -= (f * e[k] + g * d[k]);
        d[j] = v(i - 1, j);
        v(i, j) = 0;
      }
    }
    d[i] = h;
  }
  for (int i = 0; i < n - 1; ++i) {
    v(n - 1, i) = v(i, i);
    v(i, i) = 1;
    double h = d[i + 1];
    if (h != 0) {
      for (int k = 0; k <= i; ++k) d[k] = v(k, i + 1) / h;
      for (int j = 0; j <= i; ++j) {
        double g = 0;
        for (int k = 0; k <= i; ++k) g += v(k, i + 1) * v(k, j);
        for (int k = 0; k <= i; ++k) v(k, j) -= g * d[k];
      }
    }
    for (int k = 0; k <= i; ++k) v(k, i + 1) = 0;
  }
  for (int j = 0; j < n; ++j) { d[j] = v(n - 1, j); v(n - 1, j) = 0; }
  v(n - 1, n - 1) = 1;
  e[0] = 0;
}

// Implicit QL on the tridiagonal (d, e); Vt holds eigenvectors as rows (transposed for locality).
bool Tql2(std::vector<double>& Vt, int n, std::vector<double>& d, std::vector<double>& e) {
  for (int i = 1; i < n; ++i) e[i - 1] = e[i];
  e[n - 1] = 0;
  double f = 0, tst1 = 0;
  const double eps = std::ldexp(1.0, -52);
  for (int l = 0; l < n; ++l) {
    tst1 = std::max(tst1, std::fabs(d[l]) + std::fabs(e[l]));
    int m = l;
    while (m < n) { if (std::fabs(e[m]) <= eps * tst1) break; ++m; }
    if (m > l) {
      int iter = 0;
      do {
        if (++iter > 300) return false;
        double g = d[l], p = (d[l + 1] - g) / (2 * e[l]), r = std::hypot(p, 1.0);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        double dl1 = d[l + 1], h = g - d[l];
        for (int i = l + 2; i < n; ++i) d[i] -= h;
        f += h;
        p = d[m];
        double c = 1, c2 = 1, c3 = 1, el1 = e[l + 1], s = 0, s2 = 0;
        for (int i = m - 1; i >= l; --i) {
          c3 = c2; c2 = c; s2 = s;
          g = c * e[i]; h = c * p;
          r = std::hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r; c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          double* vi = &Vt[(size_t)i * n];
          double* vi1 = &Vt[(size_t)(i + 1) * n];
          for (int k = 0; k < n; ++k) {
            double t = vi1[k];
            vi1[k] = s * vi[k] + c * t;
            vi[k] = c * vi[k] - s * t;
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (std::fabs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  return true;
}

}  // namespace

void MatMulF64(const double* A, const double* B, int m, int k, int n, int threads, double* C) {
  ParallelRows((size_t)m, threads, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      double* c = C + i * n;
      std::fill(c, c + n, 0.0);
      for (int t = 0; t < k; ++t) {
        const double a = A[i * k + t];
        if (a == 0) continue;
        const double* br = B + (size_t)t * n;
        for (int j = 0; j < n; ++j) c[j] += a * br[j];
      }
    }
  });
}

Status SymmetricEigen(const double* a, int n, std::vector<double>* values, std::vector<double>* vecs) {
  if (n <= 0) return Status::Error(Code::kShape, "eigen: empty matrix");
  std::vector<double> V(a, a + (size_t)n * n), d(n), e(n);
  Tred2(V, n, d, e);
  std::vector<double>& Vt = V;  // column-major V == row-major Vᵀ
  if (!Tql2(Vt, n, d, e)) return Status::Error(Code::kNumeric, "eigen: QL iteration did not converge");
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int x, int y) { return d[x] > d[y]; });
  values->resize(n);
  vecs->resize((size_t)n * n);
  for (int i = 0; i < n; ++i) {
    (*values)[i] = d[idx[i]];
    std::copy(&Vt[(size_t)idx[i] * n], &Vt[(size_t)idx[i] * n] + n, &(*vecs)[(size_t)i * n]);
  }
  return Status::Ok();
}

Status Svd(const double* a, int rows, int cols, const JobControl& ctl, std::vector<double>* u,
           std::vector<double>* s, std::vector<double>* vt, std::vector<double>* us) {
  if (rows <= 0 || cols <= 0) return Status::Error(Code::kShape, "svd: empty matrix " + std::to_string(rows) + "×" + std::to_string(cols));
  const bool tall = rows >= cols;
  const int m = tall ? rows : cols, n = tall ? cols : rows;  // work on M (m×n), m ≥ n
  std::vector<double> M((size_t)m * n);
  if (tall) std::copy(a, a + (size_t)rows * cols, M.begin());
  else
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) M[(size_t)j * n + i] = a[(size_t)i * cols + j];
  // Gram G = MᵀM (n×n) through Mᵀ (n×m) for row-contiguous access.
  std::vector<double> Mt((size_t)n * m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) Mt[(size_t)j * m + i] = M[(size_t)i * n + j];
  std::vector<double> G((size_t)n * n);
  ParallelRows((size_t)n, ctl.threads, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i)
      for (int j = 0; j < n; ++j) {
        const double* x = &Mt[i * m];
        const double* y = &Mt[(size_t)j * m];
        double acc = 0;
        for (int t = 0; t < m; ++t) acc += x[t] * y[t];
        G[i * n + j] = acc;
      }
  });
  if (ctl.cancelled()) return Status::Error(Code::kCancelled, "svd: cancelled");
  std::vector<double> lam, V;
  Status st = SymmetricEigen(G.data(), n, &lam, &V);
  if (!st.ok()) return st;
  if (ctl.cancelled()) return Status::Error(Code::kCancelled, "svd: cancelled");
  // P = M·v_i (m×n, column i) — equals σ_i u_i exactly in exact arithmetic.
  std::vector<double> P((size_t)m * n);
  ParallelRows((size_t)m, ctl.threads, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r)
      for (int i = 0; i < n; ++i) {
        const double* vi = &V[(size_t)i * n];
        const double* mr = &M[r * n];
        double acc = 0;
        for (int t = 0; t < n; ++t) acc += mr[t] * vi[t];
        P[r * n + i] = acc;
      }
  });
  std::vector<double> sig(n);
  for (int i = 0; i < n; ++i) {
    double nrm = 0;
    for (int r = 0; r < m; ++r) nrm += P[(size_t)r * n + i] * P[(size_t)r * n + i];
    sig[i] = std::sqrt(nrm);  // ‖M v_i‖ is more accurate than sqrt(λ_i) for small σ
  }
  const double tiny = (sig.empty() ? 0 : sig[0]) * 1e-300;
  // Tall: A = M, U = P/σ (rows×k), Vt = V. Wide: A = Mᵀ = V·Pᵀ → U = V (rows×k), Vt = (P/σ)ᵀ.
  const int k = n;
  if (s) *s = sig;
  if (tall) {
    if (u) { u->assign((size_t)rows * k, 0.0);
      for (int r = 0; r < rows; ++r) for (int i = 0; i < k; ++i)
        (*u)[(size_t)r * k + i] = sig[i] > tiny ? P[(size_t)r * n + i] / sig[i] : 0.0; }
    if (vt) *vt = V;
    if (us) *us = P;
  } else {
    if (u || us) {
      std::vector<double> U((size_t)rows * k);
      for (int r = 0; r < rows; ++r) for (int i = 0; i < k; ++i) U[(size_t)r * k + i] = V[(size_t)i * n + r];
      if (us) { us->resize(U.size()); for (int r = 0; r < rows; ++r) for (int i = 0; i < k; ++i) (*us)[(size_t)r * k + i] = U[(size_t)r * k + i] * sig[i]; }
      if (u) *u = std::move(U);
    }
    if (vt) { vt->assign((size_t)k * cols, 0.0);
      for (int i = 0; i < k; ++i) for (int c = 0; c < cols; ++c)
        (*vt)[(size_t)i * cols + c] = sig[i] > tiny ? P[(size_t)c * n + i] / sig[i] : 0.0; }
  }
  return Status::Ok();
}

}  // namespace lowbit
