// One-shot pruning masks (Wanda: |W|·‖X_j‖₂ per output row, Sun et al. 2024; magnitude: |W| per
// layer) and RTN of the survivors. SparseGPT's mask is chosen inside the GPTQ solve (gptq.cc).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "lowbit/parallel.h"
#include "lowbit/sparse.h"

namespace lowbit {

Status CheckPrune(const PruneSpec& spec, int cols) {
  if (spec.structured()) {
    if (spec.n <= 0 || spec.n >= spec.m)
      return Status::Error(Code::kArg, "N:M sparsity needs 0 < N < M, got " + std::to_string(spec.n) + ":" + std::to_string(spec.m));
    if (cols % spec.m != 0)
      return Status::Error(Code::kShape, "N:M sparsity " + std::to_string(spec.n) + ":" + std::to_string(spec.m) +
                                             " needs the input width to be a multiple of " + std::to_string(spec.m) +
                                             ", got " + std::to_string(cols));
    return Status::Ok();
  }
  if (!(spec.ratio >= 0.0 && spec.ratio < 1.0))
    return Status::Error(Code::kArg, "sparsity must be in [0, 1), got " + std::to_string(spec.ratio));
  return Status::Ok();
}

void MarkSmallest(const double* scores, size_t len, size_t k, uint8_t* keep) {
  std::fill(keep, keep + len, uint8_t{1});
  if (k == 0) return;
  std::vector<size_t> idx(len);
  std::iota(idx.begin(), idx.end(), 0);
  auto less = [&](size_t a, size_t b) { return scores[a] < scores[b] || (scores[a] == scores[b] && a < b); };
  if (k < len) std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), less);
  for (size_t i = 0; i < std::min(k, len); ++i) keep[idx[i]] = 0;
}

Status OneShotMask(const float* w, int rows, int cols, const double* col_scale, const PruneSpec& spec, PruneScope scope,
                   std::vector<uint8_t>* keep) {
  Status st = CheckPrune(spec, cols);
  if (!st.ok()) return st;
  const size_t m = rows, n = cols;
  std::vector<double> score(m * n);
  for (size_t r = 0; r < m; ++r)
    for (size_t j = 0; j < n; ++j) score[r * n + j] = std::fabs(static_cast<double>(w[r * n + j])) * (col_scale ? col_scale[j] : 1.0);
  keep->assign(m * n, 1);
  if (spec.structured()) {
    for (size_t r = 0; r < m; ++r)
      for (size_t j = 0; j < n; j += spec.m) MarkSmallest(&score[r * n + j], spec.m, spec.n, keep->data() + r * n + j);
  } else if (scope == PruneScope::kRow) {
    const size_t k = static_cast<size_t>(std::floor(spec.ratio * static_cast<double>(n)));
    for (size_t r = 0; r < m; ++r) MarkSmallest(&score[r * n], n, k, keep->data() + r * n);
  } else {
    const size_t k = static_cast<size_t>(std::floor(spec.ratio * static_cast<double>(m * n)));
    MarkSmallest(score.data(), m * n, k, keep->data());
  }
  return Status::Ok();
}

Status QuantizeMaskedRtn(const float* w, int rows, int cols, int group_size, const GridSpec& grid,
                         const std::vector<uint8_t>& keep, bool quantize, const JobControl& ctl, QuantizedWeight* out) {
  const size_t len = static_cast<size_t>(rows) * cols;
  if (keep.size() != len) return Status::Error(Code::kShape, "mask size does not match the weight");
  std::vector<float> masked(w, w + len);
  for (size_t i = 0; i < len; ++i)
    if (!keep[i]) masked[i] = 0.0f;
  Status st = QuantizeRtn(masked.data(), rows, cols, group_size, grid, ctl, out);
  if (!st.ok()) return st;
  const int ng = out->num_groups(), g = out->group_size;
  for (size_t i = 0; i < len; ++i) {
    const size_t r = i / cols, gi = (i % cols) / g;
    if (!keep[i]) {
      out->codes[i] = out->zeros[r * ng + gi];  // quantizes 0 exactly (the grid always contains 0)
      out->dequant[i] = 0.0f;
    } else if (!quantize) {
      out->dequant[i] = masked[i];
    }
  }
  return Status::Ok();
}

}  // namespace lowbit
