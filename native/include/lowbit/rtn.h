// Round-to-nearest quantization of a rows×cols (out×in, row-major) weight, per row or per group of
// consecutive input columns; ragged last groups use their real columns only (docs/algorithms.md §1).
#pragma once
#include <cstdint>
#include <vector>

#include "lowbit/output_vector.h"
#include "lowbit/quant_grid.h"
#include "lowbit/status.h"

namespace lowbit {

/** Unpacked quantized weight: codes rows×cols, params rows×num_groups, dequant rows×cols. */
struct QuantizedWeight {
  int rows = 0, cols = 0, bits = 0, group_size = 0;  // group_size = cols when per-row
  bool symmetric = false;
  OutputVector<uint8_t> codes;
  std::vector<float> scales;
  std::vector<uint8_t> zeros;
  OutputVector<float> dequant;
  int num_groups() const { return (cols + group_size - 1) / group_size; }
  /** Sizes every array and zeroes it, the large codes and dequant pages first touched on `threads`
   *  threads (0 = every core). */
  void Allocate(int r, int c, int b, int g, bool sym, int threads = 0);
};

/** Effective group size: `group_size <= 0` (per row) or ≥ cols means one group of all cols. */
int EffectiveGroup(int group_size, int cols);

/** Validates shape, bit width (1..8), group size and that every weight is finite (scanned on
 *  `threads` threads, 0 = every core). */
Status CheckWeight(const float* w, int rows, int cols, int bits, int group_size, int threads = 0);

/** RTN over all rows (threaded over rows; per-row work is independent). */
Status QuantizeRtn(const float* w, int rows, int cols, int group_size, const GridSpec& spec,
                   const JobControl& ctl, QuantizedWeight* out);

}  // namespace lowbit
