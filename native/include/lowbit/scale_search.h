// Activation-aware scale and clip searches (docs/algorithms.md §3a AWQ, §3c OS+ weight-only) scored with
// the layer-local loss tr(ΔHΔᵀ) against the layer's Hessian instead of the module-output MSE of the
// references (documented deviation: no subgraph runs are needed). The grid is the project's RTN grid
// (GridSpec), so a candidate s = 1 reproduces rtn() exactly.
#pragma once
#include <vector>

#include "lowbit/rtn.h"
#include "lowbit/status.h"

namespace lowbit {

/** Result of a scale search over k candidate per-column scale vectors. */
struct ScaleSearchResult {
  int best = 0;                 // index of the best (strictly better wins; ties keep the earlier)
  std::vector<double> losses;   // k losses tr(ΔHΔᵀ), Δ = W − Q(W·diag s)·diag(s)⁻¹
};

/** Scores each candidate s (cand is k×cols, all entries > 0 and finite). */
Status ScaleSearch(const float* w, int rows, int cols, const double* h, const double* cand, int k,
                   int group_size, const GridSpec& grid, const JobControl& ctl, ScaleSearchResult* out);

/** AWQ clip search (auto_clip.py) on an already scaled W with the matching Hessian: per row-group,
 *  max-abs shrink ratios 1 − i/20, i = 0..steps−1, error δ_gᵀ H_gg δ_g; returns the ratio per
 *  row-group (rows × numGroups) and the RTN of the clamped W in *q. */
Status ClipSearch(const float* w, int rows, int cols, const double* h, int group_size, const GridSpec& grid,
                  int steps, const JobControl& ctl, std::vector<float>* ratios, QuantizedWeight* q);

}  // namespace lowbit
