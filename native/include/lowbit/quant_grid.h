// The uniform min-max quantization grid shared by RTN, GPTQ and AWQ (docs/algorithms.md §1).
// Parameters are computed in double; the scale is rounded to fp32 once and then used for both the
// codes and the dequantized values, so dequant == MatMulNBits' (q - z) * scale_fp32 exactly.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lowbit {

/** Grid settings: bit width, GPTQ-style symmetric (z = 2^(b-1)) or asymmetric, MSE clip search. */
struct GridSpec {
  int bits = 4;
  bool symmetric = false;
  bool mse_clip = false;
  double norm = 2.4;    // MSE search exponent (gptq quant.py default)
  int grid = 100;       // shrink step denominator
  double maxshrink = 0.8;
};

/** One group's parameters: fp32 scale and integer zero point in [0, maxq]. */
struct GridParams {
  float scale = 1.0f;
  int zero = 0;
};

/** Half-to-even rounding (torch.round semantics). */
inline double RoundHalfEven(double x);

/** Quantizes one value: clamp(rint(w / s) + z, 0, maxq). */
inline int QuantizeValue(double w, double scale, int zero, int maxq);

/** Parameters of one group of `len` values read with `stride` (find_params of gptq quant.py). */
GridParams FindParams(const float* w, size_t len, size_t stride, const GridSpec& spec);
/** Same, reading doubles (GPTQ's working copy). */
GridParams FindParams(const double* w, size_t len, size_t stride, const GridSpec& spec);

}  // namespace lowbit

#include <cmath>
namespace lowbit {
inline double RoundHalfEven(double x) { return std::nearbyint(x); }
inline int QuantizeValue(double w, double scale, int zero, int maxq) {
  double q = std::nearbyint(w / scale) + zero;
  if (!(q >= 0)) q = 0;  // also maps NaN to 0; inputs are validated finite beforehand
  if (q > maxq) q = maxq;
  return static_cast<int>(q);
}
}  // namespace lowbit
