// Cache-blocked, multithreaded double GEMM used by the Hessian (SYRK-like), the GPTQ lazy block
// update and the layer-error metric. Packing + a 4×16 register micro-kernel compiled for AVX-512,
// AVX2/FMA and portable x86-64 (runtime dispatch by GCC target_clones).
// Determinism: every C element is computed by one thread with a fixed k order, so results do not
// depend on the thread count (they may differ across ISAs because of FMA contraction).
#pragma once
#include <cstddef>

namespace lowbit {

/** C[i*ldc+j] += alpha * Σ_k A(i,k)·B(k,j) with A(i,k) = a[k*lda+i] ("k-major", i.e. Aᵀ stored
 *  row-major) and B(k,j) = b[k*ldb+j]. If upper_only, blocks strictly below the diagonal of C may be
 *  skipped (only C[i][j] with j ≥ i are guaranteed written; used for symmetric products). */
void GemmKMajor(size_t m, size_t n, size_t k, double alpha, const double* a, size_t lda,
                const double* b, size_t ldb, double* c, size_t ldc, int threads, bool upper_only = false);

/** Naive triple loop with the same contract (baseline for benchmarks and tests). */
void GemmKMajorNaive(size_t m, size_t n, size_t k, double alpha, const double* a, size_t lda,
                     const double* b, size_t ldb, double* c, size_t ldc);

}  // namespace lowbit
