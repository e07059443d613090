// BiLLM structural search on the saliency S of one block (docs/algorithms.md §4a steps 2–3).
#include "lowbit/binarize_billm_search.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "lowbit/binarize.h"
#include "lowbit/lowrank_parallel.h"

namespace lowbit {

double SortedQuantile(const std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  double pos = q * (v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

// Squared error of Σ_masks binarize(S_row, mask_i, order_i) against S, summed per row in order.
static double MaskedError(const double* S, int rows, int count,
                          const std::vector<std::vector<uint8_t>>& masks,  // rows×count each
                          const std::vector<int>& orders, int threads) {
  std::vector<double> per_row(rows, 0.0);
  ParallelRows(rows, threads, [&](size_t b, size_t e) {
    std::vector<double> approx(count), part(count);
    for (size_t r = b; r < e; ++r) {
      const double* s = S + r * count;
      std::fill(approx.begin(), approx.end(), 0.0);
      for (size_t m = 0; m < masks.size(); ++m) {
        const uint8_t* mk = masks[m].data() + r * count;
        std::fill(part.begin(), part.end(), 0.0);
        BinarizeResidual(s, mk, count, orders[m], false, part.data(), nullptr);
        for (int j = 0; j < count; ++j) if (mk[j]) approx[j] += part[j];
      }
      double err = 0;
      for (int j = 0; j < count; ++j) err += (s[j] - approx[j]) * (s[j] - approx[j]);
      per_row[r] = err;
    }
  });
  double total = 0;
  for (double e : per_row) total += e;
  return total;
}

BlockSearch SearchBlock(const double* S, int rows, int count, int up_lim, int threads) {
  BlockSearch out;
  std::vector<double> score(count, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < count; ++j) score[j] += std::fabs(S[(size_t)r * count + j]);
  std::vector<int> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return score[a] > score[b]; });

  // Salient columns: best k by MSE on S, both sides binarized with order 2.
  double best = INFINITY;
  int best_k = 1;
  int kmax = std::min(up_lim - 1, count);
  std::vector<std::vector<uint8_t>> masks(2, std::vector<uint8_t>((size_t)rows * count));
  for (int k = 1; k <= kmax; ++k) {
    std::vector<uint8_t> col(count, 0);
    for (int i = 0; i < k; ++i) col[order[i]] = 1;
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < count; ++j) {
        masks[0][(size_t)r * count + j] = col[j];
        masks[1][(size_t)r * count + j] = !col[j];
      }
    double err = MaskedError(S, rows, count, masks, {2, 2}, threads);
    if (err < best) { best = err; best_k = k; }
  }
  out.k = best_k;
  out.salient.assign(count, 0);
  for (int i = 0; i < best_k; ++i) out.salient[order[i]] = 1;

  // Split search: 81 quantiles of |S| with salient positions zeroed (zeros included).
  std::vector<double> flat((size_t)rows * count);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < count; ++j)
      flat[(size_t)r * count + j] = out.salient[j] ? 0.0 : std::fabs(S[(size_t)r * count + j]);
  std::vector<double> sorted = flat;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<uint8_t>> m3(3, std::vector<uint8_t>((size_t)rows * count));
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < count; ++j) m3[2][(size_t)r * count + j] = out.salient[j];
  best = INFINITY;
  for (int i = 0; i <= 80; ++i) {
    double p = SortedQuantile(sorted, 0.10 + 0.01 * i);
    for (size_t t = 0; t < flat.size(); ++t) {
      bool ns = !m3[2][t];
      m3[1][t] = ns && flat[t] >= p;
      m3[0][t] = ns && flat[t] < p;
    }
    double err = MaskedError(S, rows, count, m3, {1, 1, 2}, threads);
    out.split_errors.push_back(err);
    if (err < best) { best = err; out.split = p; out.best_split = i; }
  }
  return out;
}

}  // namespace lowbit
