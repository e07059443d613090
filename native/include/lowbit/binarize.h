// Binarization kernels (docs/algorithms.md §4): the residual binarization primitive, BiLLM, PB-LLM and
// the PTQ variant of DB-LLM's dual binarization. W is rows×cols (out×in) row-major fp32; H is the
// cols×cols layer Hessian (2XXᵀ/N) in fp64. Pure C++: no napi.h.
#pragma once
#include <cstdint>
#include <vector>

#include "lowbit/status.h"

namespace lowbit {

/** Rounds a float to the nearest fp16-representable value (half-to-even; saturates at ±65504). */
float RoundToFp16(double v);

/** One binarized group: ŵ = α·s + μ with s = sign(w − μ), tie (w == μ) → +1. */
struct BinParams {
  double alpha = 0, mu = 0;
};

/** Closed form over the masked entries of one row: μ = mean(w), α = mean|w − μ| (the least-squares
 *  scale for fixed signs). `mask` may be null (all entries). Empty mask → α = μ = 0. */
BinParams FitBinary(const double* w, const uint8_t* mask, int n);

/** Order-k residual binarization of the masked entries of one row (BiLLM high_order_residual):
 *  out[j] = Σ_o (α_o·s_o + μ_o) on masked entries, untouched elsewhere. `params` gets `order`
 *  entries. With fp16_scales the α/μ are rounded to fp16 before use (what is stored). */
void BinarizeResidual(const double* w, const uint8_t* mask, int n, int order, bool fp16_scales,
                      double* out, BinParams* params);

/** Upper Cholesky factor U of H⁻¹ (GPTQ steps 3, 6, 7) in fp64, with dead columns (H_jj = 0)
 *  set to 1 and reported in `dead`. Retries with damp×10 (up to 4 times) if H is not PD. */
Status HessianInverseFactor(const double* H, int n, double percdamp, std::vector<double>* U,
                            std::vector<uint8_t>* dead, int threads = 0);

/** BiLLM options (bigptq.py defaults). */
struct BillmOptions {
  int block = 128;          // block = group of columns
  double percdamp = 0.01;
  int salient_up_lim = 50;  // k = 1..up_lim-1 salient columns tried per block
  bool exact = false;       // exact mode: intra-block feedback (signs refit column by column)
  bool hessian_saliency = true;  // S = W²/U_jj² (salient_metric "hessian"); else S = W ("magnitude", structure.py)
  bool fp16_scales = true;  // store and use α/μ rounded to fp16
};

/** Compact stored form of a BiLLM weight (decode rule in billm.cc / the TS JSDoc):
 *  bit planes are rows×cols, bit (r*cols + c), little-endian within bytes. */
struct BillmStored {
  std::vector<uint8_t> sign1;        // first-order sign (1 = +α)
  std::vector<uint8_t> sign2;        // second-order sign, read only at salient columns
  std::vector<uint8_t> group;        // 1 = dense group (|S| ≥ split), read only at non-salient
  std::vector<uint8_t> salient_col;  // cols bits, 1 = salient column
  std::vector<float> scales;         // rows × blocks × 8: (α,μ) sparse, dense, salient o1, o2
};

/** Per-layer BiLLM report data (matches BinarizationDetails in protocol/report.ts). */
struct BillmDetails {
  int sal_rows = 0, sal_cols = 0;
  std::vector<double> saliency;        // ≤64×64 mean-pooled S
  std::vector<double> column_profile;  // ≤256 mean-pooled Σ_rows|S|
  std::vector<int> salient_columns;    // global column indices
  std::vector<double> split_points;    // one per block
  double bits_claimed = 0, bits_stored = 0;
  double loss = 0;                     // Σ (w−q)²/(2·U_jj²) as in the reference
};

/** BiLLM (faithful by default). `out` gets the dequantized rows×cols weight. */
Status Billm(const float* w, int rows, int cols, const double* H, const BillmOptions& opt,
             const JobControl& ctl, std::vector<float>* out, BillmStored* stored,
             BillmDetails* details);

/** PB-LLM options (gptq_pb defaults, g = −1). */
struct PbllmOptions {
  double low_frac = 0.9;  // fraction of entries binarized
  int group_size = -1;    // mask/params group along columns; ≤0 = whole row
  int block = 128;
  double percdamp = 0.01;
  bool hessian_saliency = true;  // w²/U_jj² (else |w|)
  int high_bits = 8;             // bits of the asymmetric per-row grid of the salient (unbinarized) entries, 2..8
};

/** PB-LLM result: dequantized weight, binarized-entry mask (1 = binarized, rows×cols bytes),
 *  per-row-group binary (α, μ) and 8-bit (scale, zero) parameters. */
struct PbllmResult {
  std::vector<float> dequant;
  std::vector<uint8_t> mask;
  std::vector<float> bin_params;  // rows × groups × 2 (α, μ)
  std::vector<float> q8_params;   // rows × groups × 2 (scale, zero) of the high_bits grid
  double bits_claimed = 0, bits_stored = 0, loss = 0;
};

Status Pbllm(const float* w, int rows, int cols, const double* H, const PbllmOptions& opt,
             const JobControl& ctl, PbllmResult* out);

/** Dual binarization options: ŵ = α₁b₁ + α₂b₂, b ∈ {0,1}, per row group of `group_size`. */
struct DualBinOptions {
  int group_size = 128;
  int iters = 10;
  // Optional starting point (e.g. 2-bit GPTQ codes in FDB form), replacing the 2-bit RTN start:
  // rows×cols bytes b₁, b₂ (0/1) and rows × groups × 2 (α₁, α₂). All three or none.
  const uint8_t* init_b1 = nullptr;
  const uint8_t* init_b2 = nullptr;
  const float* init_alphas = nullptr;
};

/** Dual binarization result; `error_curve[i]` = Σ(w−ŵ)² after iteration i (0 = 2-bit init). */
struct DualBinResult {
  std::vector<float> dequant;
  std::vector<uint8_t> b1, b2;   // rows×cols bytes (0/1)
  std::vector<float> alphas;     // rows × groups × 2
  std::vector<double> error_curve;
  double bits_stored = 0;
};

Status DualBinarize(const float* w, int rows, int cols, const DualBinOptions& opt,
                    const JobControl& ctl, DualBinResult* out);

}  // namespace lowbit
