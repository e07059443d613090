// Internal to BiLLM: the per-block salient-column and split-point searches (autosearch.py).
#pragma once
#include <cstdint>
#include <vector>

namespace lowbit {

/** Result of the structural search on one block's saliency S (rows×count, row-major). */
struct BlockSearch {
  std::vector<uint8_t> salient;  // count entries, 1 = salient column
  int k = 0;                     // number of salient columns
  double split = 0;              // |S| threshold: dense = |S| ≥ split among non-salient
  std::vector<double> split_errors;  // error of each of the 81 candidates (for tests/reports)
  int best_split = 0;            // index of the chosen candidate
};

/** Salient-column search (k = 1..up_lim−1, order-2 both sides, MSE on S), then the 81-quantile
 *  split search (orders 1,1,2, MSE on S). Deterministic for any thread count. */
BlockSearch SearchBlock(const double* S, int rows, int count, int up_lim, int threads);

/** Linear-interpolated quantile (torch.quantile semantics) of sorted values. */
double SortedQuantile(const std::vector<double>& sorted, double q);

}  // namespace lowbit
