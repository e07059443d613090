// Low-rank compensation (docs/algorithms.md §5): FLRQ (R1-FLR rank selection, activation scaling, BLC)
// and the LoRC / LQER baselines. W is rows×cols (out×in) fp32; W ≈ dequant(Q) + L·R.
#pragma once
#include <cstdint>
#include <vector>

#include "lowbit/status.h"

namespace lowbit {

/** Symmetric quantized weight (MatMulNBits-ready: code = q + 2^(b−1), zero point default). */
struct SymQuant {
  int rows = 0, cols = 0, bits = 4, group_size = 128;
  std::vector<uint8_t> codes;   // rows×cols: [1, 2^b − 1] (absmax RTN), [0, 2^b − 1] (GPTQ grid)
  std::vector<float> scales;    // rows × ceil(cols/group)
  std::vector<uint8_t> zeros;   // rows × ceil(cols/group) zero points (kGptqAsym); empty = 2^(b−1)
  std::vector<double> dequant;  // rows×cols: (code − zero)·scale
};

/** Per-group symmetric absmax quantization, s = c·max|w|/(2^(b−1)−1), values clamped to the grid.
 *  With clip_search the ratio c ∈ {1, 0.975, …, 0.5} minimizing the group's squared error is used
 *  (first minimum wins); otherwise c = 1. */
void QuantizeSymAbsmax(const double* w, int rows, int cols, int bits, int group_size,
                       bool clip_search, int threads, SymQuant* out);

/** How the low-rank methods quantize the main weight / residual. kRtn: QuantizeSymAbsmax (FLRQ
 *  Eq. 8, docs/algorithms.md §5a). kGptq (extension, docs/decisions.md): GPTQ (docs/algorithms.md §2) on its
 *  symmetric grid (s = 2·amax/(2^b − 1), zero 2^(b−1), codes [0, 2^b − 1], no clip search) against
 *  the layer Hessian, damp 0.01, block 128, act-order with static groups. kGptqAsym: the FLRQ
 *  authors' base quantizer (Sketch_lopro gptq_utils_lora with QuaRot's WeightQuantizer): GPTQ on the
 *  asymmetric min-max grid with the MSE range search (norm 2.4, grid 100, shrink ≤ 90%), act-order
 *  off, damp 0.01, block 128; zero points are stored. */
enum class ResidualQuantizer { kRtn, kGptq, kGptqAsym };

/** How R1-FLR picks the rank. kSpec: docs/algorithms.md §5a (d_fp 16, slope over the last 4 ranks,
 *  fp64 factors). kAuthors: the authors' get_best_sketch_fp8_ret (r1_sketch.py), run on Wᵀ·diag(s)
 *  like their code: d_fp 12; a relative amax drop under 10% over 16 ranks backs off 8; k ≥ q only
 *  counts after `sketch_iters` ranks; at least rank 1, but rank 0 when the kept ranks lower amax by
 *  under 10%; the unit factors are rounded to fp8 e5m2 and the left one times σ to fp16. */
enum class FlrqRankRule { kSpec, kAuthors };

/** Nearest fp8 e5m2 value (2 mantissa bits, fp16's exponent range, half-to-even, saturating). */
double RoundE5m2(double x);

/** Quantizes w (rows×cols, fp64) with `quantizer`. clip_search applies to kRtn only; kGptq needs H
 *  (cols×cols) and fails without it. out->dequant == (code − 2^(b−1))·scale exactly (in double). */
Status QuantizeResidual(const double* w, int rows, int cols, int bits, int group_size, bool clip_search,
                        ResidualQuantizer quantizer, const double* H, const JobControl& ctl, SymQuant* out);

/** tr(Δ H Δᵀ) for Δ rows×cols; H = null means the identity (Frobenius). */
double LowRankTraceError(const double* delta, int rows, int cols, const double* H, int threads);

/** Common low-rank result. */
struct LowRankResult {
  SymQuant q;
  int rank = 0;
  std::vector<double> L, R;        // rows×rank, rank×cols
  std::vector<double> curve;       // amax (FLRQ) or singular values (LoRC/LQER)
  std::vector<double> blc_best;    // FLRQ: best-so-far tr(ΔHΔᵀ) per BLC evaluation
  double storage_overhead = 0;     // extra bits per weight / main bits = 16 r(m+n)/(b m n)
  double rel_error_before = 0;     // tr(ΔHΔᵀ)/tr(WHWᵀ) for plain Q(W), same quantizer (the report's rel_error)
  double rel_error_after = 0;      // same for Q + L·R
};

/** FLRQ options. These defaults are the spec's variant (docs/algorithms.md §5a); the recipe's defaults
 *  (recipe/schema.ts) follow the authors' code: kAuthors, exponent 2.4, 8 sketch iterations, no BLC,
 *  kGptqAsym. */
struct FlrqOptions {
  int bits = 4, group_size = 128;
  double budget_x = 0.2;       // storage budget: stop when k > 1 + x
  double slope_t = 1e-3;       // amax slope rule threshold (avg relative drop over last 4 ranks)
  int max_rank = 64;
  int sketch_iters = 2;
  uint64_t seed = 0;
  int blc_epochs = 1;
  bool act_scaling = true;     // needs act_mean
  double act_exponent = 2.5;   // Eq. 10 exponent (the authors' code: 2.4)
  FlrqRankRule rank_rule = FlrqRankRule::kSpec;
  bool clip_search = true;
  ResidualQuantizer quantizer = ResidualQuantizer::kRtn;  // every residual quantization (init + BLC)
};

/** R1-FLR alone: greedy rank-1 extraction with the amax / budget / slope stop rules. Returns the
 *  accepted factors and the amax curve (w_0 … w_last tried). */
Status R1Flr(const double* a, int rows, int cols, const FlrqOptions& opt, const JobControl& ctl,
             std::vector<double>* L, std::vector<double>* R, int* rank, std::vector<double>* curve);

/** R1-FLR with the authors' rank rule (FlrqRankRule::kAuthors); same outputs as R1Flr. */
Status R1FlrAuthors(const double* a, int rows, int cols, const FlrqOptions& opt, const JobControl& ctl,
                    std::vector<double>* L, std::vector<double>* R, int* rank, std::vector<double>* curve);

/** Full FLRQ: scaling + R1-FLR + clipped quantization + BLC. H (cols×cols) and act_mean (cols)
 *  may be null. */
Status Flrq(const float* w, int rows, int cols, const double* H, const float* act_mean,
            const FlrqOptions& opt, const JobControl& ctl, LowRankResult* out);

/** LoRC / LQER options. `factor_bits` 8 = int8 per-vector absmax fake-quant of L and R, 0 = fp. */
struct LowRankBaselineOptions {
  int bits = 4, group_size = 128, rank = 8, factor_bits = 8;
  bool clip_search = false;
  ResidualQuantizer quantizer = ResidualQuantizer::kRtn;  // Q(W) before the SVD of the error
};

/** LoRC: SVD of E = W − Q(W); L = U_r Σ_r^½, R = Σ_r^½ V_rᵀ. */
Status Lorc(const float* w, int rows, int cols, const double* H, const LowRankBaselineOptions& opt,
            const JobControl& ctl, LowRankResult* out);

/** LQER: SVD of E·diag(s), s = act_mean (null → ones); L = U_k Σ_k, R = V_kᵀ diag(1/s). */
Status Lqer(const float* w, int rows, int cols, const double* H, const float* act_mean,
            const LowRankBaselineOptions& opt, const JobControl& ctl, LowRankResult* out);

}  // namespace lowbit
