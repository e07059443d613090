// Dense float64 linear algebra for the low-rank methods (docs/algorithms.md §5): a symmetric eigen
// solver (Householder tridiagonalization + implicit QL, after EISPACK tred2/tql2) and a thin SVD
// built on the eigen decomposition of the smaller Gram matrix. Row-major, pure C++.
#pragma once
#include <vector>

#include "lowbit/status.h"

namespace lowbit {

/** Eigen decomposition of a symmetric n×n matrix: values descending, vectors as rows of `vecs`
 *  (vecs[i*n + k] = k-th component of the i-th eigenvector). */
Status SymmetricEigen(const double* a, int n, std::vector<double>* values, std::vector<double>* vecs);

/** Thin SVD A (rows×cols) = U·diag(s)·Vt, k = min(rows, cols), s descending.
 *  u: rows×k, vt: k×cols. Computed from the Gram matrix of the smaller side, so singular values
 *  below ~1e-8·s_max are only accurate in absolute terms; `us` (= U·diag s, rows×k, computed as
 *  A·v) reconstructs A to rounding even then. Any output pointer may be null. */
Status Svd(const double* a, int rows, int cols, const JobControl& ctl, std::vector<double>* u,
           std::vector<double>* s, std::vector<double>* vt, std::vector<double>* us);

/** C = A (m×k) · B (k×n), row-major, threaded over rows of C (deterministic). */
void MatMulF64(const double* A, const double* B, int m, int k, int n, int threads, double* C);

}  // namespace lowbit
