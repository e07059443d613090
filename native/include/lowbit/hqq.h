// HQQ: half-quadratic quantization (Badri & Shaji 2023, mobiusml/hqq optimize_weights_proximal):
// data-free; with each group's min-max scale fixed, alternate a generalized soft-thresholding of the
// error (lp, p ≤ 1) and a closed-form zero-point update, β growing by κ, early stop on the error.
#pragma once
#include <vector>

#include "lowbit/rtn.h"
#include "lowbit/status.h"

namespace lowbit {

/** HQQ settings (the authors' defaults: p 0.7, β 10, κ 1.01, 20 iterations). */
struct HqqSpec {
  int bits = 4;
  int group_size = 64;
  int iterations = 20;
  double lp_norm = 0.7;
  double beta = 10.0;
  double kappa = 1.01;
  /** true: start from RTN's asymmetric grid and keep zero points integers in [0, maxq] (storable by
   *  MatMulNBits/QDQ/packed); false: the authors' group min-max start and real-valued zero points. */
  bool integer_zero = true;
};

/** What one HQQ run did: the objective mean|W − Ŵ| before each accepted iteration (index 0 = the
 *  min-max start), how many iterations were accepted, and the objective of the returned weight. */
struct HqqStats {
  std::vector<double> objective;
  int iterations = 0;
  double initial = 0.0;
  double final_objective = 0.0;
};

/** HQQ result: codes/scales/integer zeros (QuantizedWeight) plus the zero points as floats. */
struct HqqWeight {
  QuantizedWeight q;
  std::vector<float> zero_points;  // rows × num_groups; equal to q.zeros when integer_zero
};

/** Shrinkage operator of HQQ for the lp norm (p = 1: soft thresholding). */
double ShrinkLp(double x, double beta, double p);

/** HQQ over all rows; the objective is global (the authors' early stop over the whole tensor). */
Status QuantizeHqq(const float* w, int rows, int cols, const HqqSpec& spec, const JobControl& ctl, HqqWeight* out,
                   HqqStats* stats);

}  // namespace lowbit
