// fp64 dense factorizations for GPTQ: Cholesky, triangular inverse, and U = upper Cholesky factor
// of H⁻¹ computed without forming H⁻¹ (reversal identity, see cholesky.cc).
#pragma once
#include <cstddef>
#include <vector>

namespace lowbit {

/** In-place upper Cholesky A = RᵀR of a row-major SPD matrix (reads the upper triangle, zeroes the
 *  lower). Returns false (A partially overwritten) if a pivot is not positive and finite. */
bool CholeskyUpper(double* a, size_t n, int threads);

/** In-place inverse of an upper-triangular row-major matrix with non-zero diagonal; the strict lower
 *  triangle must be zero (as CholeskyUpper leaves it) and stays zero. */
void InvertUpper(double* r, size_t n, int threads);

/** U upper with H⁻¹ = UᵀU (torch: cholesky(cholesky_inverse(cholesky(H)), upper=True)), written to
 *  the caller's n×n buffer u (contents on entry ignored; the strict lower triangle comes back zero).
 *  H's diagonal is replaced by diag[0..n) when diag is not null (damping without copying H).
 *  Returns false if H is not numerically positive definite. */
bool InverseCholeskyUpper(const double* h, size_t n, const double* diag, double* u, int threads);

}  // namespace lowbit
