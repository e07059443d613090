// Pruning (docs/algorithms.md §8): the mask spec shared by SparseGPT (inside the GPTQ solve,
// gptq.h) and the one-shot masks of Wanda and magnitude pruning, followed by RTN of the survivors.
#pragma once
#include <cstdint>
#include <vector>

#include "lowbit/rtn.h"
#include "lowbit/status.h"

namespace lowbit {

/** What to prune: `ratio` of the weights (unstructured) or, with m > 0, n of every m consecutive
 *  input columns of each row (N:M, e.g. 2:4). `quantize = false` keeps the survivors in float
 *  (pure pruning; the invariant tests use it). */
struct PruneSpec {
  double ratio = 0.0;
  int n = 0, m = 0;
  bool quantize = true;
  bool active() const { return ratio > 0.0 || m > 0; }
  bool structured() const { return m > 0; }
};

/** Validates the spec against the weight's input width: ratio in [0, 1), 0 < n < m, cols % m == 0. */
Status CheckPrune(const PruneSpec& spec, int cols);

/** Which comparison set a one-shot mask ranks within: each output row (Wanda) or the whole layer
 *  (the magnitude baseline of the Wanda repository). N:M always ranks within each row's M columns. */
enum class PruneScope { kRow, kLayer };

/** The k smallest-score entries of `scores[0..len)` (ties broken by index) are marked 0 in
 *  keep[0..len) (stride 1), the others 1. */
void MarkSmallest(const double* scores, size_t len, size_t k, uint8_t* keep);

/** keep (rows×cols, 1 = kept) of the one-shot score |W_ij|·col_scale_j (col_scale null = 1:
 *  magnitude; Wanda passes ‖X_j‖₂). */
Status OneShotMask(const float* w, int rows, int cols, const double* col_scale, const PruneSpec& spec, PruneScope scope,
                   std::vector<uint8_t>* keep);

/** RTN of W⊙keep on the usual grid (parameters from the masked weight): pruned entries get the
 *  zero-point code and dequantize to exactly 0. With spec.quantize false, dequant = W⊙keep. */
Status QuantizeMaskedRtn(const float* w, int rows, int cols, int group_size, const GridSpec& grid,
                         const std::vector<uint8_t>& keep, bool quantize, const JobControl& ctl, QuantizedWeight* out);

}  // namespace lowbit
