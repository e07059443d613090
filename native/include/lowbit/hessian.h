// GPTQ Hessian accumulation H = (2/N) Σ_t x_t x_tᵀ in fp64 (ALGORITHMS.md §2 step 1), as a
// blocked, threaded SYRK through GemmKMajor. N counts tokens (rows of x), not sequences: H is then
// independent of how the calibration stream is batched; GPTQ is invariant to H's scale anyway.
#pragma once
#include <cstddef>

#include "lowbit/status.h"

namespace lowbit {

/** Adds `tokens` rows of x (tokens×n, row-major) to the running Hessian H (n×n) whose previous
 *  token count is *count: H ← H·N/(N+T) + (2/(N+T))·XᵀX, then *count = N+T. Rejects non-finite x. */
Status AccumulateHessian(double* h, size_t n, double* count, const float* x, size_t tokens, int threads);

}  // namespace lowbit
