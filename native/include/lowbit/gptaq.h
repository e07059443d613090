// GPTAQ's cross statistic D = (2/N)·Σ_t (x_t − x̃_t)·x̃_tᵀ (Li et al. 2025; authors' add_batch:
// dXXT), accumulated with the same running-mean scaling as the Hessian so that D and H share N.
// x are a layer's inputs in the float model, x̃ the same positions' inputs in the quantized-prefix
// model. The solve that consumes D is QuantizeGptaq (gptq.h).
#pragma once
#include <cstddef>

#include "lowbit/status.h"

namespace lowbit {

/** D ← D·N/(N+T) + (2/(N+T))·(X − X̃)ᵀX̃ with X, X̃ tokens×n row-major fp32, then *count = N+T.
 *  fp32 products in tiles of ≤ 256 tokens, summed into D in fp64 (as the Hessian). Rejects
 *  non-finite inputs, naming the token and channel. */
Status AccumulateCross(double* d, size_t n, double* count, const float* x_fp, const float* x_q, size_t tokens,
                       int threads);

}  // namespace lowbit
