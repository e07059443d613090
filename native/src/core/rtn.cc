// Round-to-nearest over rows × groups (docs/algorithms.md §1); rows are independent and threaded.
#include "lowbit/rtn.h"

#include <cmath>
#include <string>

#include "lowbit/finite_scan.h"
#include "lowbit/parallel.h"

namespace lowbit {

void QuantizedWeight::Allocate(int r, int c, int b, int g, bool sym, int threads) {
  rows = r; cols = c; bits = b; group_size = g; symmetric = sym;
  const size_t n = static_cast<size_t>(r) * c, gs = static_cast<size_t>(r) * num_groups();
  FillParallel<uint8_t>(codes, n, 0, threads);
  FillParallel<float>(dequant, n, 0.0f, threads);
  scales.assign(gs, 0.0f); zeros.assign(gs, 0);
}

int EffectiveGroup(int group_size, int cols) {
  return (group_size <= 0 || group_size >= cols) ? cols : group_size;
}

Status CheckWeight(const float* w, int rows, int cols, int bits, int group_size, int threads) {
  if (rows <= 0 || cols <= 0) {
    return Status::Error(Code::kShape, "weight must be non-empty, got " + std::to_string(rows) + "x" + std::to_string(cols));
  }
  if (bits < 1 || bits > 8) return Status::Error(Code::kArg, "bits must be in 1..8, got " + std::to_string(bits));
  if (group_size == 0 || group_size < -1) return Status::Error(Code::kArg, "groupSize must be -1 or positive, got " + std::to_string(group_size));
  const size_t n = static_cast<size_t>(rows) * cols;
  const size_t i = FirstNonFinite(w, n, threads);
  if (i < n)
    return Status::Error(Code::kNumeric, "weight is not finite at row " + std::to_string(i / cols) + ", column " +
                                             std::to_string(i % cols));
  return Status::Ok();
}

Status QuantizeRtn(const float* w, int rows, int cols, int group_size, const GridSpec& spec,
                   const JobControl& ctl, QuantizedWeight* out) {
  Status st = CheckWeight(w, rows, cols, spec.bits, group_size, ctl.threads);
  if (!st.ok()) return st;
  const int g = EffectiveGroup(group_size, cols);
  out->Allocate(rows, cols, spec.bits, g, spec.symmetric, ctl.threads);
  const int ng = out->num_groups(), maxq = (1 << spec.bits) - 1;
  ParallelFor(rows, ctl.threads, 16, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      if (ctl.cancelled()) return;
      for (int gi = 0; gi < ng; ++gi) {
        const int c0 = gi * g, len = std::min(g, cols - c0);
        const float* src = w + r * cols + c0;
        GridParams p = FindParams(src, len, 1, spec);
        out->scales[r * ng + gi] = p.scale;
        out->zeros[r * ng + gi] = static_cast<uint8_t>(p.zero);
        for (int k = 0; k < len; ++k) {
          int q = QuantizeValue(src[k], p.scale, p.zero, maxq);
          out->codes[r * cols + c0 + k] = static_cast<uint8_t>(q);
          out->dequant[r * cols + c0 + k] = static_cast<float>(static_cast<double>(p.scale) * (q - p.zero));
        }
      }
    }
  });
  if (ctl.cancelled()) return Status::Error(Code::kCancelled, "RTN cancelled");
  ctl.report(rows, rows);
  return Status::Ok();
}

}  // namespace lowbit
