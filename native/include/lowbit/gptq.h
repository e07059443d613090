// GPTQ (Frantar et al. 2022; IST-DASLab/gptq gptq.py fasterquant), reimplemented from
// docs/algorithms.md §2: damping with retries, dead columns, act-order (stable sort), static groups,
// per-group parameters recorded for every group, lazy block updates through a blocked GEMM.
#pragma once
#include <vector>

#include "lowbit/rtn.h"
#include "lowbit/sparse.h"
#include "lowbit/status.h"

namespace lowbit {

/** GPTQ settings. group_size ≤ 0 = per row. Blocks are additionally cut at group boundaries so a
 *  group's parameters always see the fully updated weights (identical to the reference whenever the
 *  group size is a multiple of block_size). act_order with groups forces static_groups. */
struct GptqSpec {
  GridSpec grid;
  int group_size = -1;
  double percdamp = 0.01;
  int block_size = 128;
  bool act_order = false;
  bool static_groups = false;
  int max_damp_retries = 6;
  /** The whole solve in fp64 (exact, for the float64 reference tests). The default GPTQ solve runs in
   *  fp32 working precision like the authors' (gptq_fp32.h: fp32 weights, in-block and lazy updates,
   *  one Cholesky with fp32 products summed in fp64); SparseGPT and GPTAQ by default keep fp64 weights
   *  with the lazy and factorization updates as fp32 products summed into fp64. */
  bool fp64_updates = false;
  /** GPTAQ's α (Li et al. 2025; authors' fasterquant default 0.25): P = α·triu₁(D·Uᵀ)·U. Only read
   *  when a cross statistic D is given (QuantizeGptaq). */
  double gptaq_alpha = 0.25;
  /** SparseGPT (Frantar & Alistarh 2023): prune while quantizing, with the same error feedback.
   *  Unstructured masks are chosen per block of columns by w²/U_jj² (U = chol(H⁻¹) upper) over all
   *  rows; N:M masks per row every M columns. Needs act_order off; N:M also needs cols, the block
   *  size and the group size to be multiples of M. Inactive (the default) = plain GPTQ. */
  PruneSpec prune;
};

/** Extra outputs: internal loss Σ (w−q)²/(2 U_jj²) = ½ tr(ΔHΔᵀ) with the damped H, the final
 *  percdamp used and how many ×10 retries were needed. */
struct GptqStats {
  double loss = 0.0;
  double percdamp = 0.0;
  int damp_retries = 0;
  /** With spec.prune active: rows×cols, 1 = kept (original column order). */
  std::vector<uint8_t> keep;
};

/** Quantizes W (rows×cols, out×in, row-major fp32) against H (cols×cols fp64). */
Status QuantizeGptq(const float* w, int rows, int cols, const double* h, const GptqSpec& spec,
                    const JobControl& ctl, QuantizedWeight* out, GptqStats* stats);

/** GPTAQ (Li et al. 2025, "GPTAQ: Efficient Finetuning-Free Quantization for Asymmetric
 *  Calibration"; authors' gptaq_utils.py fasterquant): GPTQ on H = (2/N)·Σ x̃x̃ᵀ of the
 *  quantized-prefix inputs, plus the asymmetric term from D = (2/N)·Σ (x − x̃)x̃ᵀ (cols×cols fp64,
 *  D[a][b] = Σ_t Δx_a x̃_b; see AccumulateCross): with U the upper Cholesky factor of H⁻¹ and
 *  P = α·triu₁(D·Uᵀ)·U (strictly upper), quantizing column j updates the later columns k by
 *  W[:, k] -= e_j·U[j,k] − w_j·P[j,k] inside the block (w_j: column j before rounding) and by
 *  W[:, i2:] -= Err·U[i1:i2, i2:] − Q_blk·P[i1:i2, i2:] across blocks (Q_blk: the block's rounded
 *  values), as the authors' code does. D = 0 (x̃ = x) gives GPTQ bit for bit. */
Status QuantizeGptaq(const float* w, int rows, int cols, const double* h, const double* d, const GptqSpec& spec,
                     const JobControl& ctl, QuantizedWeight* out, GptqStats* stats);

/** Same solve with the lazy update done by a naive triple loop (benchmark baseline only). */
Status QuantizeGptqNaive(const float* w, int rows, int cols, const double* h, const GptqSpec& spec,
                         const JobControl& ctl, QuantizedWeight* out, GptqStats* stats);

}  // namespace lowbit
