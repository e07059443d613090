// Layer-output error metrics against a Hessian: tr(ΔHΔᵀ) and tr(WHWᵀ).
#pragma once
#include "lowbit/status.h"

namespace lowbit {

/** tr(A H Aᵀ) for A rows×cols (fp32, row-major) and H cols×cols; computed as Σ_r (A H)_r · A_r with
 *  a blocked GEMM and a fixed-order row reduction. */
double QuadraticTrace(const float* a, int rows, int cols, const double* h, int threads);

/** tr(ΔHΔᵀ)/tr(WHWᵀ) with Δ = W − Ŵ; 0 when both traces are 0. */
Status RelativeError(const float* w, const float* what, int rows, int cols, const double* h, int threads, double* result);

}  // namespace lowbit
