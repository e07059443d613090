// R1-Sketch (FLRQ Alg. 1, docs/algorithms.md §5a): rank-1 randomized SVD with power iterations,
// extracted greedily with deflation. Seeded, thread-count independent.
#include "lowbit/sketch.h"

#include <cmath>
#include <string>

#include "lowbit/lowrank_parallel.h"

namespace lowbit {

namespace {
uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
inline uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// y = A x (rows), per-row dot products.
void Gemv(const double* a, int rows, int cols, const double* x, int threads, double* y) {
  ParallelRows((size_t)rows, threads, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      const double* ar = a + r * cols;
      double acc = 0;
      for (int c = 0; c < cols; ++c) acc += ar[c] * x[c];
      y[r] = acc;
    }
  });
}
// y = Aᵀ x (cols), split over column ranges so each y[c] has one owner and a fixed order.
void GemvT(const double* a, int rows, int cols, const double* x, int threads, double* y) {
  ParallelRows((size_t)cols, threads, [&](size_t b, size_t e) {
    for (size_t c = b; c < e; ++c) y[c] = 0;
    for (int r = 0; r < rows; ++r) {
      const double xr = x[r];
      const double* ar = a + (size_t)r * cols;
      for (size_t c = b; c < e; ++c) y[c] += ar[c] * xr;
    }
  });
}
double Normalize(double* v, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += v[i] * v[i];
  s = std::sqrt(s);
  if (s > 0) for (int i = 0; i < n; ++i) v[i] /= s;
  return s;
}
}  // namespace

SketchRng::SketchRng(uint64_t seed) {
  uint64_t x = seed;
  for (auto& v : s_) v = SplitMix(x);
}
uint64_t SketchRng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
  s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3];
  s_[2] ^= t; s_[3] = Rotl(s_[3], 45);
  return result;
}
double SketchRng::Normal() {
  if (has_spare_) { has_spare_ = false; return spare_; }
  double u1 = ((Next() >> 11) + 1.0) * 0x1.0p-53, u2 = (Next() >> 11) * 0x1.0p-53;
  double r = std::sqrt(-2.0 * std::log(u1)), th = 2 * M_PI * u2;
  spare_ = r * std::sin(th);
  has_spare_ = true;
  return r * std::cos(th);
}

void R1SketchComponent(const double* a, int rows, int cols, int iters, SketchRng* rng,
                       int threads, double* left, double* right) {
  std::vector<double> s(cols), p(rows), k(cols);
  for (auto& v : s) v = rng->Normal();
  Gemv(a, rows, cols, s.data(), threads, p.data());
  Normalize(p.data(), rows);
  for (int it = 0; it < iters; ++it) {
    GemvT(a, rows, cols, p.data(), threads, k.data());
    Gemv(a, rows, cols, k.data(), threads, p.data());
    Normalize(p.data(), rows);
  }
  GemvT(a, rows, cols, p.data(), threads, k.data());
  double nk = Normalize(k.data(), cols);
  for (int r = 0; r < rows; ++r) left[r] = nk * p[r];
  for (int c = 0; c < cols; ++c) right[c] = nk > 0 ? k[c] : 0.0;
}

Status R1Sketch(const double* a, int rows, int cols, int rank, int iters, uint64_t seed,
                const JobControl& ctl, std::vector<double>* L, std::vector<double>* R) {
  if (rows <= 0 || cols <= 0) return Status::Error(Code::kShape, "r1Sketch: empty matrix");
  if (rank < 0 || rank > std::min(rows, cols)) return Status::Error(Code::kArg, "r1Sketch: rank " + std::to_string(rank) + " outside [0, min(rows, cols)]");
  std::vector<double> res(a, a + (size_t)rows * cols), l(rows), r(cols);
  L->assign((size_t)rows * rank, 0.0);
  R->assign((size_t)rank * cols, 0.0);
  SketchRng rng(seed);
  for (int i = 0; i < rank; ++i) {
    if (ctl.cancelled()) return Status::Error(Code::kCancelled, "r1Sketch: cancelled at rank " + std::to_string(i));
    R1SketchComponent(res.data(), rows, cols, iters, &rng, ctl.threads, l.data(), r.data());
    for (int x = 0; x < rows; ++x) {
      (*L)[(size_t)x * rank + i] = l[x];
      double* rr = &res[(size_t)x * cols];
      for (int c = 0; c < cols; ++c) rr[c] -= l[x] * r[c];
    }
    std::copy(r.begin(), r.end(), R->begin() + (size_t)i * cols);
    ctl.report(i + 1, rank);
  }
  return Status::Ok();
}

}  // namespace lowbit
