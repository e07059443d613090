// Dense factorizations for GPTQ: Cholesky (fp64, and fp32 storage), triangular inverse, U = upper
// Cholesky factor of H⁻¹ and V = U⁻¹, computed without forming H⁻¹ (reversal identity, see cholesky.cc).
#pragma once
#include <cstddef>
#include <vector>

namespace lowbit {

/** In-place upper Cholesky A = RᵀR of a row-major SPD matrix (reads the upper triangle, zeroes the
 *  lower). Returns false (A partially overwritten) if a pivot is not positive and finite.
 *  fp32_products: the trailing updates (n³/6 of the flops) multiply fp32-rounded panels in fp32 FMA
 *  chains of ≤ 128 products, summed into the fp64 matrix (GemmKMajorF32); diagonal blocks, panel
 *  solves and the matrix itself stay fp64. */
bool CholeskyUpper(double* a, size_t n, int threads, bool fp32_products = false);

/** CholeskyUpper in fp32 storage (GPTQ's working precision, as the authors' torch.linalg.cholesky on
 *  an fp32 H): each kNb×kNb diagonal block factored and inverted in fp64, rounded to fp32; the panel
 *  solves and the trailing updates are fp32 GEMMs with fp32 C (chains of ≤ 128 products). Zeroes the
 *  strict lower triangle; false on a bad pivot, as CholeskyUpper. */
bool CholeskyUpperF32(float* a, size_t n, int threads);

/** In-place inverse of an upper-triangular row-major matrix with non-zero diagonal; the strict lower
 *  triangle must be zero (as CholeskyUpper leaves it) and stays zero. */
void InvertUpper(double* r, size_t n, int threads, bool fp32_products = false);

/** U upper with H⁻¹ = UᵀU (torch: cholesky(cholesky_inverse(cholesky(H)), upper=True)), written to
 *  the caller's n×n buffer u (contents on entry ignored; the strict lower triangle comes back zero).
 *  H's diagonal is replaced by diag[0..n) when diag is not null (damping without copying H).
 *  Returns false if H is not numerically positive definite. fp32_products: both rank-128 update
 *  sweeps as fp32 products summed in fp64 (see CholeskyUpper). */
bool InverseCholeskyUpper(const double* h, size_t n, const double* diag, double* u, int threads,
                          bool fp32_products = false);

/** V = U⁻¹ in fp32, upper with H = V·Vᵀ (V = JRᵀJ for JHJ = RᵀR): InverseCholeskyUpper without the
 *  triangular inverse (half the factorization's flops), for GPTQ's default solve. The reversed copy of
 *  H is rounded to fp32 and factored by CholeskyUpperF32. Same arguments and failure rule. */
bool ReversedCholeskyUpperF32(const double* h, size_t n, const double* diag, float* v, int threads);

}  // namespace lowbit
