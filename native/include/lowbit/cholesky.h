// fp64 dense factorizations for GPTQ: Cholesky, triangular inverse, and U = upper Cholesky factor
// of H⁻¹ computed without forming H⁻¹ (reversal identity, see cholesky.cc).
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

/** V = U⁻¹, upper with H = V·Vᵀ (V = JRᵀJ for JHJ = RᵀR): InverseCholeskyUpper without the triangular
 *  inverse (half the factorization's flops). Same arguments and failure rule. */
bool ReversedCholeskyUpper(const double* h, size_t n, const double* diag, double* v, int threads,
                           bool fp32_products = false);

}  // namespace lowbit
