// AdaRound, layer-wise (Nagel et al. 2020, "Up or Down? Adaptive Rounding for Post-Training
// Quantization"; BRECQ/QDrop's AdaRoundQuantizer): learn whether each weight rounds up or down on a
// fixed grid (scales + integer zeros from RTN or GPTQ) by Adam on soft variables V, minimizing
// ½·tr(ΔHΔᵀ) + λ·Σ(1 − |2h(V) − 1|^β), h(V) = clip(σ(V)(ζ − γ) + γ, 0, 1), β annealed after a warm-up.
// Gradients are derived by hand (no autograd).
#pragma once
#include <cstdint>
#include <vector>

#include "lowbit/rtn.h"
#include "lowbit/status.h"

namespace lowbit {

/** AdaRound settings (BRECQ defaults: λ 0.01, β 20 → 2, warm-up 20 %, Adam lr 1e-3). */
struct AdaRoundSpec {
  int iterations = 1000;
  double lambda = 0.01;
  double beta_start = 20.0;
  double beta_end = 2.0;
  double warmup = 0.2;
  double lr = 1e-3;
  double zeta = 1.1;
  double gamma = -0.1;
};

/** The fixed grid AdaRound rounds on: per-group fp32 scales and integer zeros (rows × num_groups). */
struct AdaRoundGrid {
  int bits = 4;
  int group_size = 0;  // effective (cols when per row)
  const float* scales = nullptr;
  const uint8_t* zeros = nullptr;
};

/** What the run did: tr(ΔHΔᵀ) of round-to-nearest and of the learned rounding on the same grid, and
 *  how many weights round the other way than to nearest. */
struct AdaRoundStats {
  double loss_nearest = 0.0;
  double loss = 0.0;
  int64_t flips = 0;
  int iterations = 0;
};

/** BRECQ's LinearTempDecay: β_start until warm-up·T, then linear to β_end at T. */
double AdaRoundBeta(const AdaRoundSpec& spec, int t);

/** V with h(V) = frac(W/s) (BRECQ init_alpha), rows × cols. */
void AdaRoundInit(const float* w, int rows, int cols, const AdaRoundGrid& grid, const AdaRoundSpec& spec,
                  std::vector<double>* v);

/** The objective at V, ½·tr(ΔHΔᵀ) (rec) and λΣ(1 − |2h − 1|^β) (reg, 0 when !with_reg), and its
 *  gradient in V (rows × cols) when grad != nullptr. */
Status AdaRoundLossGrad(const float* w, int rows, int cols, const double* h, const AdaRoundGrid& grid,
                        const AdaRoundSpec& spec, const double* v, double beta, bool with_reg, int threads, double* rec,
                        double* reg, double* grad);

/** Learned rounding on the fixed grid: codes = clamp(⌊W/s⌋ + [V ≥ 0] + z, 0, maxq). */
Status QuantizeAdaRound(const float* w, int rows, int cols, const double* h, const AdaRoundGrid& grid,
                        const AdaRoundSpec& spec, const JobControl& ctl, QuantizedWeight* out, AdaRoundStats* stats);

}  // namespace lowbit
