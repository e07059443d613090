// R1-Sketch (FLRQ Alg. 1): rank-1 randomized range finder with power iterations.
#pragma once
#include <cstdint>
#include <vector>

#include "lowbit/status.h"

namespace lowbit {

/** Deterministic generator (splitmix64 seeding xoshiro256**) with Box–Muller normals. */
class SketchRng {
 public:
  explicit SketchRng(uint64_t seed);
  double Normal();
 private:
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
  uint64_t Next();
};

/** One rank-1 component of A (rows×cols): s ~ N(0, I), p = normalize(A s), `iters` times
 *  p = normalize(A Aᵀ p), k = Aᵀp; left = ‖k‖·p (rows), right = k/‖k‖ (cols).
 *  A zero matrix yields zero vectors. */
void R1SketchComponent(const double* a, int rows, int cols, int iters, SketchRng* rng,
                       int threads, double* left, double* right);

/** Rank-r R1-Sketch by deflation: L (rows×r), R (r×cols), A ≈ L·R. */
Status R1Sketch(const double* a, int rows, int cols, int rank, int iters, uint64_t seed,
                const JobControl& ctl, std::vector<double>* L, std::vector<double>* R);

}  // namespace lowbit
