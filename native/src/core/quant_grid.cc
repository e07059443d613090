// find_params of IST-DASLab/gptq quant.py (L36–117), reimplemented: min-max range containing 0,
// GPTQ-style symmetric zero 2^(b-1), optional MSE-searched shrinking (norm 2.4, 80 steps).
#include "lowbit/quant_grid.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lowbit {
namespace {

struct Range { double xmin, xmax; };

template <typename T>
Range BaseRange(const T* w, size_t len, size_t stride, bool symmetric) {
  double xmin = 0.0, xmax = 0.0;  // the range always contains 0
  for (size_t i = 0; i < len; ++i) {
    double v = static_cast<double>(w[i * stride]);
    xmin = std::min(xmin, v);
    xmax = std::max(xmax, v);
  }
  if (symmetric) {
    xmax = std::max(std::fabs(xmin), xmax);
    if (xmin < 0) xmin = -xmax;  // quirk: an all-non-negative group keeps xmin = 0
  }
  if (xmin == 0.0 && xmax == 0.0) { xmin = -1.0; xmax = 1.0; }
  return {xmin, xmax};
}

GridParams ParamsFor(double xmin, double xmax, const GridSpec& spec) {
  const int maxq = (1 << spec.bits) - 1;
  GridParams p;
  p.scale = static_cast<float>((xmax - xmin) / maxq);
  if (spec.symmetric) {
    p.zero = (maxq + 1) / 2;
  } else {
    p.zero = static_cast<int>(std::nearbyint(-xmin / static_cast<double>(p.scale)));
    p.zero = std::clamp(p.zero, 0, maxq);
  }
  return p;
}

template <typename T>
GridParams FindParamsImpl(const T* w, size_t len, size_t stride, const GridSpec& spec) {
  Range r = BaseRange(w, len, stride, spec.symmetric);
  GridParams best = ParamsFor(r.xmin, r.xmax, spec);
  if (!spec.mse_clip) return best;
  const int maxq = (1 << spec.bits) - 1;
  double best_err = std::numeric_limits<double>::infinity();
  const int steps = static_cast<int>(spec.maxshrink * spec.grid);
  for (int i = 0; i < steps; ++i) {
    double p = 1.0 - static_cast<double>(i) / spec.grid;
    GridParams cand = ParamsFor(p * r.xmin, p * r.xmax, spec);
    if (spec.symmetric) cand.zero = best.zero;  // symmetric keeps z
    double s = cand.scale, err = 0.0;
    for (size_t k = 0; k < len; ++k) {
      double v = static_cast<double>(w[k * stride]);
      double q = s * (QuantizeValue(v, s, cand.zero, maxq) - cand.zero);
      err += std::pow(std::fabs(q - v), spec.norm);
    }
    if (err < best_err) { best_err = err; best = cand; }
  }
  return best;
}

}  // namespace

GridParams FindParams(const float* w, size_t len, size_t stride, const GridSpec& spec) {
  return FindParamsImpl(w, len, stride, spec);
}
GridParams FindParams(const double* w, size_t len, size_t stride, const GridSpec& spec) {
  return FindParamsImpl(w, len, stride, spec);
}

}  // namespace lowbit
