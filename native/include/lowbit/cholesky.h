// fp64 dense factorizations for GPTQ: Cholesky, triangular inverse, and U = upper Cholesky factor
// of H⁻¹ computed without forming H⁻¹ (reversal identity, see cholesky.cc).
#pragma once
#include <cstddef>
#include <vector>

namespace lowbit {

/** In-place upper Cholesky A = RᵀR of a row-major SPD matrix (reads the upper triangle, zeroes the
 *  lower). Returns false (A partially overwritten) if a pivot is not positive and finite. */
bool CholeskyUpper(double* a, size_t n, int threads);

/** In-place inverse of an upper-triangular row-major matrix with non-zero diagonal. */
void InvertUpper(double* r, size_t n, int threads);

/** U upper with H⁻¹ = UᵀU (torch: cholesky(cholesky_inverse(cholesky(H)), upper=True)).
 *  Returns false if H is not numerically positive definite. */
bool InverseCholeskyUpper(const double* h, size_t n, std::vector<double>* u, int threads);

}  // namespace lowbit
