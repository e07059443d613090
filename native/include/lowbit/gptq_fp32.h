// GPTQ's default solve in fp32 working precision (gptq_fp32.cc) and the damped factorization it
// shares with the fp64 solve (gptq.cc). Internal to the GPTQ kernels.
#pragma once
#include <cstddef>
#include <vector>

#include "lowbit/gptq.h"
#include "lowbit/phase_timer.h"

namespace lowbit {

/** Factors H (n×n, diagonal from diag) with percdamp damping, ×10 per retry: U = chol(H⁻¹) upper
 *  into the n×n buffer u (the fp64 solve's factor). */
Status FactorDamped(const double* h, const std::vector<double>& diag, size_t n, const GptqSpec& spec, int threads,
                    double* u, GptqStats* stats);

/** The same damping rule for the default solve's fp32 V = U⁻¹, H = V·Vᵀ (ReversedCholeskyUpperF32). */
Status FactorDampedF32(const double* h, const std::vector<double>& diag, size_t n, const GptqSpec& spec, int threads,
                       float* v, GptqStats* stats);

/** The end of both solves: adds the rows' losses to stats->loss and stores every row's group
 *  parameters (params: ng per row when grouped, else one) as out's scales and zero points. */
void StoreRowResults(const std::vector<GridParams>& params, const std::vector<double>& row_loss, int ng, bool grouped,
                     QuantizedWeight* out, GptqStats* stats);

/** GPTQ without pruning or GPTAQ, in the authors' working precision: fp32 weights, fp32 lazy and
 *  in-block updates, fp32 accumulation; the factor V = U⁻¹ (one Cholesky, fp32 products summed in
 *  fp64) replaces chol(H⁻¹), with W̃_j = W_j + U_jj·Σ_{i<j} (W_i − Q_i)·V_ij (the same columns as
 *  GPTQ's W_j − Σ_{i<j} E_i·U_ij, since W − Q = E·U). out is allocated (g = effective group). */
Status SolveGptqFp32(const float* w, size_t m, size_t n, const double* h, const GptqSpec& spec, int g,
                     const JobControl& ctl, QuantizedWeight* out, GptqStats* stats, PhaseTimer& prof);

}  // namespace lowbit
