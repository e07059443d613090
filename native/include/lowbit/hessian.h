// GPTQ Hessian accumulation H = (2/N) Σ_t x_t x_tᵀ held in fp64 (docs/algorithms.md §2 step 1), as a
// blocked, threaded SYRK (upper triangle, then mirrored) through GemmKMajorF32: fp32 FMA tiles of
// ≤ 256 tokens, each added to H in fp64, so |ΔH_ij| ≤ γ₂₅₆·(2/N)·Σ_t |x_ti x_tj| (γ₂₅₆ ≈ 1.53e-5;
// ~1e-7 of max|H| in practice, see docs/decisions.md). Bit-identical for any thread count.
// N counts tokens (rows of x), not sequences: H is then independent of how the calibration stream is
// batched; GPTQ is invariant to H's scale anyway.
#pragma once
#include <cstddef>

#include "lowbit/status.h"

namespace lowbit {

/** Adds `tokens` rows of x (tokens×n, row-major) to the running Hessian H (n×n) whose previous
 *  token count is *count: H ← H·N/(N+T) + (2/(N+T))·XᵀX, then *count = N+T. Rejects non-finite x. */
Status AccumulateHessian(double* h, size_t n, double* count, const float* x, size_t tokens, int threads);

}  // namespace lowbit
