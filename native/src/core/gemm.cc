// Blocked GEMM (see gemm.h): jc (NC) → pc (KC) → ic (MC, cyclic over threads) → jr (NR) → ir (MR).
#include "lowbit/gemm.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "lowbit/parallel.h"

namespace lowbit {
namespace {

constexpr size_t kMR = 4, kNR = 16, kKC = 256, kMC = 64, kNC = 2048;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LOWBIT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LOWBIT_CLONES
#endif

// acc = Ap(kc×MR)ᵀ·Bp(kc×NR); C[0:mr, 0:nr] += alpha·acc. The 4×16 accumulator tile is 8 zmm registers
// on the AVX-512 clone and 16 ymm on the AVX2 clone (GCC splits the 64-byte vectors); each element is
// the same FMA chain in k order on every clone, so the vector width does not change results.
typedef double V8 __attribute__((vector_size(64)));

LOWBIT_CLONES
void MicroKernel(size_t kc, const double* __restrict ap, const double* __restrict bp, double* __restrict c,
                 size_t ldc, size_t mr, size_t nr, double alpha) {
  V8 acc[kMR][2] = {};
  for (size_t k = 0; k < kc; ++k) {
    V8 b0, b1;
    __builtin_memcpy(&b0, bp + k * kNR, 64);
    __builtin_memcpy(&b1, bp + k * kNR + 8, 64);
    for (size_t r = 0; r < kMR; ++r) {
      const double av = ap[k * kMR + r];
      acc[r][0] += av * b0; acc[r][1] += av * b1;
    }
  }
  if (mr == kMR && nr == kNR) {  // full tile: same per-element expression, vectorized
    for (size_t r = 0; r < kMR; ++r)
      for (size_t q = 0; q < 2; ++q) {
        V8 cv;
        __builtin_memcpy(&cv, c + r * ldc + 8 * q, 64);
        cv += alpha * acc[r][q];
        __builtin_memcpy(c + r * ldc + 8 * q, &cv, 64);
      }
    return;
  }
  for (size_t r = 0; r < mr; ++r)
    for (size_t j = 0; j < nr; ++j) c[r * ldc + j] += alpha * acc[r][j / 8][j % 8];
}

// Packs B[pc:pc+kc, jc:jc+nc] into NR-wide panels, zero-padded.
void PackB(size_t kc, size_t nc, const double* b, size_t ldb, double* out) {
  for (size_t jr = 0; jr < nc; jr += kNR) {
    const size_t nr = std::min(kNR, nc - jr);
    for (size_t k = 0; k < kc; ++k) {
      const double* src = b + k * ldb + jr;
      double* dst = out + jr * kc + k * kNR;
      size_t j = 0;
      for (; j < nr; ++j) dst[j] = src[j];
      for (; j < kNR; ++j) dst[j] = 0.0;
    }
  }
}

// Packs A(ic:ic+mc, pc:pc+kc) (k-major source) into MR-tall panels, zero-padded.
void PackA(size_t kc, size_t mc, const double* a, size_t lda, double* out) {
  for (size_t ir = 0; ir < mc; ir += kMR) {
    const size_t mr = std::min(kMR, mc - ir);
    for (size_t k = 0; k < kc; ++k) {
      const double* src = a + k * lda + ir;
      double* dst = out + ir * kc + k * kMR;
      size_t r = 0;
      for (; r < mr; ++r) dst[r] = src[r];
      for (; r < kMR; ++r) dst[r] = 0.0;
    }
  }
}

void GemmThread(size_t tid, size_t nthreads, size_t m, size_t n, size_t k, double alpha, const double* a,
                size_t lda, const double* b, size_t ldb, double* c, size_t ldc, bool upper_only) {
  std::vector<double> bpack(kKC * ((std::min(kNC, n) + kNR - 1) / kNR * kNR));
  std::vector<double> apack(kKC * kMC);
  for (size_t jc = 0; jc < n; jc += kNC) {
    const size_t nc = std::min(kNC, n - jc);
    for (size_t pc = 0; pc < k; pc += kKC) {
      const size_t kc = std::min(kKC, k - pc);
      bool packed = false;
      for (size_t blk = tid; blk * kMC < m; blk += nthreads) {
        const size_t ic = blk * kMC, mc = std::min(kMC, m - ic);
        if (upper_only && jc + nc <= ic) continue;
        if (!packed) { PackB(kc, nc, b + pc * ldb + jc, ldb, bpack.data()); packed = true; }
        PackA(kc, mc, a + pc * lda + ic, lda, apack.data());
        for (size_t jr = 0; jr < nc; jr += kNR) {
          const size_t nr = std::min(kNR, nc - jr);
          if (upper_only && jc + jr + nr <= ic) continue;
          for (size_t ir = 0; ir < mc; ir += kMR) {
            const size_t mr = std::min(kMR, mc - ir);
            if (upper_only && jc + jr + nr <= ic + ir) continue;
            MicroKernel(kc, apack.data() + ir * kc, bpack.data() + jr * kc,
                        c + (ic + ir) * ldc + jc + jr, ldc, mr, nr, alpha);
          }
        }
      }
    }
  }
}

}  // namespace

void GemmKMajor(size_t m, size_t n, size_t k, double alpha, const double* a, size_t lda,
                const double* b, size_t ldb, double* c, size_t ldc, int threads, bool upper_only) {
  if (m == 0 || n == 0 || k == 0) return;
  const size_t blocks = (m + kMC - 1) / kMC;
  const size_t t = std::min<size_t>(static_cast<size_t>(ResolveThreads(threads)), blocks);
  if (t <= 1) { GemmThread(0, 1, m, n, k, alpha, a, lda, b, ldb, c, ldc, upper_only); return; }
  std::vector<std::thread> pool;
  for (size_t i = 1; i < t; ++i)
    pool.emplace_back(GemmThread, i, t, m, n, k, alpha, a, lda, b, ldb, c, ldc, upper_only);
  GemmThread(0, t, m, n, k, alpha, a, lda, b, ldb, c, ldc, upper_only);
  for (auto& th : pool) th.join();
}

void GemmKMajorNaive(size_t m, size_t n, size_t k, double alpha, const double* a, size_t lda,
                     const double* b, size_t ldb, double* c, size_t ldc) {
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (size_t p = 0; p < k; ++p) s += a[p * lda + i] * b[p * ldb + j];
      c[i * ldc + j] += alpha * s;
    }
}

}  // namespace lowbit
