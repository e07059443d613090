// JSQ (Guo et al., ICML 2024): the output-range term of its saliency and the output error its
// activation editor scores candidates by. Pure C++; float64 accumulation.
#pragma once
#include "lowbit/status.h"

namespace lowbit {

/** R (rows×cols): R_ij = max_t(y_ti − x̄_tj·W_ij) − min_t(…) with y = X̄·Wᵀ over the T rows of `xbar`
 *  (T×cols): output channel i's range with input column j removed (the authors' `generate_ss`). */
Status JsqRangeTerm(const float* w, int rows, int cols, const double* xbar, int T, const JobControl& ctl, double* out);

/** Σ_t Σ_i (y_ti − (X̂·Ŵᵀ)_ti)² for y (T×rows), X̂ (T×cols, float64) and Ŵ (rows×cols). */
Status JsqOutputError(const double* y, const double* xq, const float* wq, int T, int rows, int cols, const JobControl& ctl,
                      double* err);

}  // namespace lowbit
