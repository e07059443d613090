// Cache-blocked, multithreaded double GEMM used by the Hessian (SYRK-like), the Cholesky / triangular
// inverse, the GPTQ lazy block update and the layer-error metric. Packing + register micro-kernels
// for AVX-512 (12×16) and AVX2/FMA (6×8) with a portable C++ fallback, picked at run time.
// Determinism: every C element is computed by one thread with a fixed k order, so results do not
// depend on the thread count; AVX-512 and AVX2 agree bit for bit, the no-FMA fallback may differ.
#pragma once
#include <cstddef>

namespace lowbit {

/** C[i*ldc+j] = beta·C[i*ldc+j] + alpha * Σ_k A(i,k)·B(k,j) with A(i,k) = a[k*lda+i] ("k-major",
 *  i.e. Aᵀ stored row-major) and B(k,j) = b[k*ldb+j]; beta = 0 writes C without reading it. Both
 *  operands are packed before any C element is written, so C may overlap A or B. If upper_only,
 *  blocks strictly below the diagonal of C may be skipped (only C[i][j] with j ≥ i are guaranteed
 *  written; used for symmetric products). */
void GemmKMajor(size_t m, size_t n, size_t k, double alpha, const double* a, size_t lda,
                const double* b, size_t ldb, double* c, size_t ldc, int threads, bool upper_only = false,
                double beta = 1.0);

/** C = beta·C + alpha·A·B (same layouts; beta = 0 writes C without reading it) from fp32 inputs, in
 *  fp32 tiles: each run of ≤ 256 consecutive k is one fp32 FMA chain per element, converted to fp64
 *  and added to C in fp64 (c = fma(alpha, acc, c)). Error per element ≤ γ₂₅₆·|alpha|·Σ_k |a·b|. */
void GemmKMajorF32(size_t m, size_t n, size_t k, double alpha, const float* a, size_t lda,
                   const float* b, size_t ldb, double* c, size_t ldc, int threads, bool upper_only = false,
                   double beta = 1.0);

/** C = beta·C + alpha·A·B with C in fp32 too (GPTQ's fp32 working weights and factor): the same fp32
 *  FMA chains of ≤ 256 products per element, then c = fma(alpha, acc, beta·c) in fp32; upper_only as
 *  in GemmKMajor. */
void GemmKMajorF32C32(size_t m, size_t n, size_t k, double alpha, const float* a, size_t lda,
                      const float* b, size_t ldb, float* c, size_t ldc, int threads, double beta = 1.0,
                      bool upper_only = false);

/** The micro-kernel in use: "avx512", "avx2" or "generic" (LOWBIT_GEMM_ISA forces a lower one). */
const char* GemmIsa();

/** Naive triple loop with the same contract (baseline for benchmarks and tests). */
void GemmKMajorNaive(size_t m, size_t n, size_t k, double alpha, const double* a, size_t lda,
                     const double* b, size_t ldb, double* c, size_t ldc);

}  // namespace lowbit
