// Blocked GEMM (see gemm.h). A and B are packed once per call (in parallel) into MR-tall / NR-wide
// panels per KC block of k; C is cut into items (up to 4 MC-row blocks × NC columns) that threads
// claim dynamically; inside an item, for every KC block, an MR×NR register micro-kernel walks
// ir (the kc×MR panel of A stays in L1) → jr (the kc×NC block of packed B stays in L2).
//
// Micro-kernels, chosen once at run time (LOWBIT_GEMM_ISA=avx2|generic forces a lower one, for tests):
//   fp64 — avx512: 12×16 (24 zmm accumulators), avx2: 6×8 (12 ymm), generic: 4×8 plain C++;
//   fp32 inputs (Hessian) — avx512: 12×32, avx2: 6×16, generic: 4×16, each tile sum added in fp64;
//   fp32 inputs and fp32 C (GPTQ's lazy update) — the same tiles, each tile sum added in fp32.
// Every C element is acc = Σ_k a·b (one FMA chain in k order, restarted per KC block) followed by
// c = fma(alpha, acc, beta·c); the avx512 and avx2 kernels therefore give bit-identical results, and
// since KC blocking does not depend on the partition, no result depends on the thread count or
// scheduling. The generic kernels round products separately (no FMA), so they may differ in the last
// bits. The intrinsics live in functions with target attributes, so the file itself builds with the
// portable flags of binding.gyp (no -march).
#include "lowbit/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LOWBIT_X86 1
#endif

#include "lowbit/parallel.h"
#include "lowbit/scratch.h"

namespace lowbit {
namespace {

constexpr size_t kKC = 256, kMC = 96, kNC = 480;  // kMC, kMC/2: multiples of 12, 6, 4; kNC, 192, 96: of 32, 16, 8

// C tile update: c = fma(alpha, acc, beta·c) for the mr×nr valid part (beta = 1: c itself; beta = 0: C is
// not read, so NaN garbage or fresh zero pages never get loaded).
template <typename P, typename CT = double>
using Kernel = void (*)(size_t kc, const P* ap, const P* bp, CT* c, size_t ldc, size_t mr, size_t nr,
                        double alpha, double beta);

#ifdef LOWBIT_X86
__attribute__((target("avx512f"))) inline __m512d LoadC(__mmask8 m, const double* p, double beta) {
  if (beta == 0.0) return _mm512_setzero_pd();
  const __m512d v = _mm512_maskz_loadu_pd(m, p);
  return beta == 1.0 ? v : _mm512_mul_pd(_mm512_set1_pd(beta), v);
}
__attribute__((target("avx2,fma"))) inline __m256d LoadC(__m256i m, const double* p, double beta) {
  if (beta == 0.0) return _mm256_setzero_pd();
  const __m256d v = _mm256_maskload_pd(p, m);
  return beta == 1.0 ? v : _mm256_mul_pd(_mm256_set1_pd(beta), v);
}
__attribute__((target("avx512f"))) inline __m512 LoadC(__mmask16 m, const float* p, float beta) {
  if (beta == 0.0f) return _mm512_setzero_ps();
  const __m512 v = _mm512_maskz_loadu_ps(m, p);
  return beta == 1.0f ? v : _mm512_mul_ps(_mm512_set1_ps(beta), v);
}
__attribute__((target("avx2,fma"))) inline __m256 LoadC(__m256i m, const float* p, float beta) {
  if (beta == 0.0f) return _mm256_setzero_ps();
  const __m256 v = _mm256_maskload_ps(p, m);
  return beta == 1.0f ? v : _mm256_mul_ps(_mm256_set1_ps(beta), v);
}
#endif

#ifdef LOWBIT_X86
// Fetches the C tile (mr rows of `bytes` from c) into L1 before the k loop, whose ~kc·MR·2 FMAs hide
// the misses: rows of C lie ldc apart (16 KiB in GPTQ's lazy update), one page each, so the hardware
// prefetchers miss them and the tile update would otherwise wait on memory (measured: +10–15% GEMM rate
// at 4096², depth 128–256). Only when C is read (beta ≠ 0); a hint, no result depends on it.
template <typename CT>
inline void PrefetchTile(const CT* c, size_t ldc, size_t mr, size_t bytes, double beta) {
  if (beta == 0.0) return;
  for (size_t r = 0; r < mr; ++r)
    for (size_t off = 0; off < bytes; off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc) + off, _MM_HINT_T0);
}
#endif

#ifdef LOWBIT_X86
__attribute__((target("avx512f"))) void KernelAvx512(size_t kc, const double* __restrict ap,
                                                     const double* __restrict bp, double* __restrict c,
                                                     size_t ldc, size_t mr, size_t nr, double alpha, double beta) {
  constexpr int MR = 12;
  __m512d acc[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_pd();
  PrefetchTile(c, ldc, mr, 16 * sizeof(double), beta);
#pragma GCC unroll 4
  for (size_t k = 0; k < kc; ++k) {
    // The B panel streams from L2: fetch its two lines 8 steps ahead (1 KiB).
    _mm_prefetch(reinterpret_cast<const char*>(bp + 128), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(bp + 136), _MM_HINT_T0);
    const __m512d b0 = _mm512_loadu_pd(bp), b1 = _mm512_loadu_pd(bp + 8);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512d av = _mm512_set1_pd(ap[r]);
      acc[r][0] = _mm512_fmadd_pd(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_pd(av, b1, acc[r][1]);
    }
    ap += MR;
    bp += 16;
  }
  const __m512d al = _mm512_set1_pd(alpha);
  const __mmask8 m0 = nr >= 8 ? 0xff : static_cast<__mmask8>((1u << nr) - 1);
  const __mmask8 m1 = nr >= 16 ? 0xff : nr <= 8 ? 0 : static_cast<__mmask8>((1u << (nr - 8)) - 1);
  for (size_t r = 0; r < mr; ++r) {
    double* cr = c + r * ldc;
    _mm512_mask_storeu_pd(cr, m0, _mm512_fmadd_pd(al, acc[r][0], LoadC(m0, cr, beta)));
    _mm512_mask_storeu_pd(cr + 8, m1, _mm512_fmadd_pd(al, acc[r][1], LoadC(m1, cr + 8, beta)));
  }
}

__attribute__((target("avx2,fma"))) void KernelAvx2(size_t kc, const double* __restrict ap,
                                                    const double* __restrict bp, double* __restrict c,
                                                    size_t ldc, size_t mr, size_t nr, double alpha, double beta) {
  constexpr int MR = 6;
  __m256d acc[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_pd();
  for (size_t k = 0; k < kc; ++k) {
    const __m256d b0 = _mm256_loadu_pd(bp), b1 = _mm256_loadu_pd(bp + 4);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m256d av = _mm256_broadcast_sd(ap + r);
      acc[r][0] = _mm256_fmadd_pd(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_pd(av, b1, acc[r][1]);
    }
    ap += MR;
    bp += 8;
  }
  const __m256d al = _mm256_set1_pd(alpha);
  alignas(32) static const int64_t lanes[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  const __m256i idx0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
  const __m256i idx1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes + 4));
  const __m256i lim = _mm256_set1_epi64x(static_cast<long long>(nr));
  const __m256i m0 = _mm256_cmpgt_epi64(lim, idx0), m1 = _mm256_cmpgt_epi64(lim, idx1);
  for (size_t r = 0; r < mr; ++r) {
    double* cr = c + r * ldc;
    _mm256_maskstore_pd(cr, m0, _mm256_fmadd_pd(al, acc[r][0], LoadC(m0, cr, beta)));
    _mm256_maskstore_pd(cr + 4, m1, _mm256_fmadd_pd(al, acc[r][1], LoadC(m1, cr + 4, beta)));
  }
}
// fp32 kernels (Hessian): acc is an fp32 FMA chain over the kc ≤ KC products, then C (fp64) +=
// alpha·double(acc). avx512: 12×32, avx2: 6×16; bit-identical to each other like the fp64 pair.
__attribute__((target("avx512f"))) void KernelAvx512F32(size_t kc, const float* __restrict ap,
                                                        const float* __restrict bp, double* __restrict c,
                                                        size_t ldc, size_t mr, size_t nr, double alpha, double beta) {
  constexpr int MR = 12;
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  PrefetchTile(c, ldc, mr, 32 * sizeof(double), beta);
#pragma GCC unroll 4
  for (size_t k = 0; k < kc; ++k) {
    _mm_prefetch(reinterpret_cast<const char*>(bp + 256), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(bp + 272), _MM_HINT_T0);
    const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(ap[r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
    ap += MR;
    bp += 32;
  }
  const __m512d al = _mm512_set1_pd(alpha);
  __mmask8 mk[4];
  for (size_t q = 0; q < 4; ++q)
    mk[q] = nr >= 8 * (q + 1) ? 0xff : nr <= 8 * q ? 0 : static_cast<__mmask8>((1u << (nr - 8 * q)) - 1);
  for (size_t r = 0; r < mr; ++r) {
    double* cr = c + r * ldc;
    for (int h = 0; h < 2; ++h) {
      const __m512d whole = _mm512_castps_pd(acc[r][h]);
      // (maskz forms: the plain ones trip GCC 12's -Wmaybe-uninitialized inside its own headers)
      const __m512d lo = _mm512_maskz_cvtps_pd(0xff, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xf, whole, 0)));
      const __m512d hi = _mm512_maskz_cvtps_pd(0xff, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xf, whole, 1)));
      const __mmask8 ml = mk[2 * h], mh = mk[2 * h + 1];
      double* c0 = cr + 16 * h;
      _mm512_mask_storeu_pd(c0, ml, _mm512_fmadd_pd(al, lo, LoadC(ml, c0, beta)));
      _mm512_mask_storeu_pd(c0 + 8, mh, _mm512_fmadd_pd(al, hi, LoadC(mh, c0 + 8, beta)));
    }
  }
}

__attribute__((target("avx2,fma"))) void KernelAvx2F32(size_t kc, const float* __restrict ap,
                                                       const float* __restrict bp, double* __restrict c,
                                                       size_t ldc, size_t mr, size_t nr, double alpha, double beta) {
  constexpr int MR = 6;
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (size_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(ap + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
    ap += MR;
    bp += 16;
  }
  const __m256d al = _mm256_set1_pd(alpha);
  __m256i mk[4];
  const __m256i lim = _mm256_set1_epi64x(static_cast<long long>(nr));
  for (int q = 0; q < 4; ++q)
    mk[q] = _mm256_cmpgt_epi64(lim, _mm256_setr_epi64x(4 * q, 4 * q + 1, 4 * q + 2, 4 * q + 3));
  for (size_t r = 0; r < mr; ++r) {
    double* cr = c + r * ldc;
    for (int h = 0; h < 2; ++h) {
      const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(acc[r][h]));
      const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(acc[r][h], 1));
      double* c0 = cr + 8 * h;
      _mm256_maskstore_pd(c0, mk[2 * h], _mm256_fmadd_pd(al, lo, LoadC(mk[2 * h], c0, beta)));
      _mm256_maskstore_pd(c0 + 4, mk[2 * h + 1], _mm256_fmadd_pd(al, hi, LoadC(mk[2 * h + 1], c0 + 4, beta)));
    }
  }
}
// fp32 kernels with fp32 C (GPTQ's fp32 working weights): the same fp32 FMA chains, then
// c = fma(alpha, acc, beta·c) in fp32. avx512: 12×32, avx2: 6×16; bit-identical to each other.
__attribute__((target("avx512f"))) void KernelAvx512F32C32(size_t kc, const float* __restrict ap,
                                                           const float* __restrict bp, float* __restrict c,
                                                           size_t ldc, size_t mr, size_t nr, double alpha, double beta) {
  constexpr int MR = 12;
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  PrefetchTile(c, ldc, mr, 32 * sizeof(float), beta);
#pragma GCC unroll 4
  for (size_t k = 0; k < kc; ++k) {
    _mm_prefetch(reinterpret_cast<const char*>(bp + 256), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(bp + 272), _MM_HINT_T0);
    const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(ap[r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
    ap += MR;
    bp += 32;
  }
  const __m512 al = _mm512_set1_ps(static_cast<float>(alpha));
  const float bt = static_cast<float>(beta);
  const __mmask16 m0 = nr >= 16 ? 0xffff : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : static_cast<__mmask16>((1u << (nr - 16)) - 1);
  for (size_t r = 0; r < mr; ++r) {
    float* cr = c + r * ldc;
    _mm512_mask_storeu_ps(cr, m0, _mm512_fmadd_ps(al, acc[r][0], LoadC(m0, cr, bt)));
    _mm512_mask_storeu_ps(cr + 16, m1, _mm512_fmadd_ps(al, acc[r][1], LoadC(m1, cr + 16, bt)));
  }
}

__attribute__((target("avx2,fma"))) void KernelAvx2F32C32(size_t kc, const float* __restrict ap,
                                                          const float* __restrict bp, float* __restrict c,
                                                          size_t ldc, size_t mr, size_t nr, double alpha, double beta) {
  constexpr int MR = 6;
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (size_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(ap + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
    ap += MR;
    bp += 16;
  }
  const __m256 al = _mm256_set1_ps(static_cast<float>(alpha));
  const float bt = static_cast<float>(beta);
  const __m256i lim = _mm256_set1_epi32(static_cast<int>(nr));
  const __m256i m0 = _mm256_cmpgt_epi32(lim, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i m1 = _mm256_cmpgt_epi32(lim, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15));
  for (size_t r = 0; r < mr; ++r) {
    float* cr = c + r * ldc;
    _mm256_maskstore_ps(cr, m0, _mm256_fmadd_ps(al, acc[r][0], LoadC(m0, cr, bt)));
    _mm256_maskstore_ps(cr + 8, m1, _mm256_fmadd_ps(al, acc[r][1], LoadC(m1, cr + 8, bt)));
  }
}
#endif

template <typename P, size_t MR, size_t NR, typename CT = double>
void KernelGeneric(size_t kc, const P* __restrict ap, const P* __restrict bp, CT* __restrict c, size_t ldc,
                   size_t mr, size_t nr, double alpha, double beta) {
  P acc[MR][NR] = {};
  for (size_t k = 0; k < kc; ++k, ap += MR, bp += NR)
    for (size_t r = 0; r < MR; ++r)
      for (size_t j = 0; j < NR; ++j) acc[r][j] += ap[r] * bp[j];
  const CT al = static_cast<CT>(alpha), bt = static_cast<CT>(beta);
  for (size_t r = 0; r < mr; ++r)
    for (size_t j = 0; j < nr; ++j) {
      const CT old = bt == CT(0) ? CT(0) : bt == CT(1) ? c[r * ldc + j] : bt * c[r * ldc + j];
      c[r * ldc + j] = old + al * static_cast<CT>(acc[r][j]);
    }
}

template <typename P, typename CT = double>
struct Isa {
  Kernel<P, CT> kernel;
  size_t mr, nr;
  const char* name;
};

int IsaLevel() {  // 2 = avx512, 1 = avx2+fma, 0 = generic
  const char* force = std::getenv("LOWBIT_GEMM_ISA");
  const std::string f = force ? force : "";
  int level = 0;
#ifdef LOWBIT_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = 1;
  if (level == 1 && __builtin_cpu_supports("avx512f")) level = 2;
#endif
  if (f == "avx2") level = std::min(level, 1);
  if (f == "generic") level = 0;
  return level;
}

Isa<double> PickIsa(double*) {
#ifdef LOWBIT_X86
  const int level = IsaLevel();
  if (level == 2) return {KernelAvx512, 12, 16, "avx512"};
  if (level == 1) return {KernelAvx2, 6, 8, "avx2"};
#endif
  return {KernelGeneric<double, 4, 8>, 4, 8, "generic"};
}

Isa<float> PickIsa(float*) {
#ifdef LOWBIT_X86
  const int level = IsaLevel();
  if (level == 2) return {KernelAvx512F32, 12, 32, "avx512"};
  if (level == 1) return {KernelAvx2F32, 6, 16, "avx2"};
#endif
  return {KernelGeneric<float, 4, 16>, 4, 16, "generic"};
}

Isa<float, float> PickIsaC32() {
#ifdef LOWBIT_X86
  const int level = IsaLevel();
  if (level == 2) return {KernelAvx512F32C32, 12, 32, "avx512"};
  if (level == 1) return {KernelAvx2F32C32, 6, 16, "avx2"};
#endif
  return {KernelGeneric<float, 4, 16, float>, 4, 16, "generic"};
}

template <typename P, typename CT = double>
const Isa<P, CT>& CurrentIsa() {
  static const Isa<P, CT> isa = PickIsa(static_cast<P*>(nullptr));
  return isa;
}
template <>
const Isa<float, float>& CurrentIsa<float, float>() {
  static const Isa<float, float> isa = PickIsaC32();
  return isa;
}

// Packs columns [0, w) of the k-major rows src[k*ld + ·], k < kc, into panels of R (a compile-time
// width, so each row piece is a fixed-size vector copy), zero-padded: out[p*kc + k*R + r] for
// p = panel start. Rows are read front to back (one sequential sweep per k).
template <size_t R, typename T>
void PackPanels(size_t kc, size_t w, const T* src, size_t ld, T* out) {
  const size_t full = w / R * R;
  for (size_t k = 0; k < kc; ++k) {
    const T* s = src + k * ld;
    size_t p = 0;
    for (; p < full; p += R) std::memcpy(out + p * kc + k * R, s + p, R * sizeof(T));
    if (p < w) {
      T* d = out + p * kc + k * R;
      size_t r = 0;
      for (; r < w - p; ++r) d[r] = s[p + r];
      for (; r < R; ++r) d[r] = T(0);
    }
  }
}

template <typename T>
void Pack(size_t kc, size_t w, const T* src, size_t ld, size_t r, T* out) {
  switch (r) {
    case 4: PackPanels<4>(kc, w, src, ld, out); break;
    case 6: PackPanels<6>(kc, w, src, ld, out); break;
    case 8: PackPanels<8>(kc, w, src, ld, out); break;
    case 12: PackPanels<12>(kc, w, src, ld, out); break;
    case 16: PackPanels<16>(kc, w, src, ld, out); break;
    case 32: PackPanels<32>(kc, w, src, ld, out); break;
    default: std::abort();
  }
}

// Packed operands: a solver calls the GEMM hundreds of times with operands of a few MB (GPTQ's lazy
// updates, the Cholesky's rank-128 updates), and a fresh buffer per call paid its first-touch page
// faults every time (≈ 10–20 µs per 4 KiB page on the bench VM). Operands of 2 MiB and more come from
// the scratch pool (scratch.h); smaller ones from a process-wide list of 2 MiB buffers (at most
// kKeepSmall kept, whichever thread calls). 64-byte aligned.
class PackSpace {
 public:
  PackSpace(size_t bytes) {
    if (bytes >= kSmall) {
      big_.reset(new ScratchDoubles((bytes + 7) / 8));
      p_ = big_->get();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        small_ = free_.back();
        free_.pop_back();
      }
    }
    if (!small_) small_ = static_cast<double*>(::operator new(kSmall, std::align_val_t(64)));
    p_ = small_;
  }
  ~PackSpace() {
    if (!small_) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < kKeepSmall) free_.push_back(small_);
    else ::operator delete(small_, std::align_val_t(64));
  }
  PackSpace(const PackSpace&) = delete;
  PackSpace& operator=(const PackSpace&) = delete;
  template <typename T>
  T* get() const {
    return static_cast<T*>(p_);
  }

 private:
  static constexpr size_t kSmall = size_t{2} << 20, kKeepSmall = 4;
  static std::mutex mu_;
  static std::vector<double*> free_;
  std::unique_ptr<ScratchDoubles> big_;
  double* small_ = nullptr;
  void* p_;
};
std::mutex PackSpace::mu_;
std::vector<double*> PackSpace::free_;

template <typename T, typename CT = double>
void Gemm(size_t m, size_t n, size_t k, double alpha, const T* a, size_t lda, const T* b, size_t ldb, CT* c,
          size_t ldc, int threads, bool upper_only, double beta) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // C = beta·C only
    if (beta != 1.0)
      for (size_t i = 0; i < m; ++i)
        for (size_t j = upper_only ? std::min(i, n) : 0; j < n; ++j)
          c[i * ldc + j] = beta == 0.0 ? CT(0) : static_cast<CT>(beta * c[i * ldc + j]);
    return;
  }
  const Isa<T, CT> isa = CurrentIsa<T, CT>();
  const size_t MR = isa.mr, NR = isa.nr;
  const size_t npad = (n + NR - 1) / NR * NR, mpad = (m + MR - 1) / MR * MR;
  const size_t nkb = (k + kKC - 1) / kKC, njb = (n + kNC - 1) / kNC, nib = (m + kMC - 1) / kMC;
  // Both operands are packed once, in parallel, before any C element is written (so C may alias
  // neither). KC block p of B starts at p*kKC*npad, with the NR-wide panel of column j0 at j0*kc;
  // likewise A at p*kKC*mpad, with the MR-tall panel of row i0 at i0*kc.
  // 64-byte aligned, so that no vector load of a packed panel splits across cache lines.
  const PackSpace bstore(npad * k * sizeof(T)), astore(mpad * k * sizeof(T));
  T* const bpack = bstore.get<T>();
  T* const apack = astore.get<T>();
  ParallelFor(nkb * (njb + nib), threads, 1, [&](size_t u0, size_t u1) {
    for (size_t u = u0; u < u1; ++u) {
      const size_t p = u / (njb + nib), q = u % (njb + nib), pc = p * kKC, kc = std::min(kKC, k - pc);
      if (q < njb) {
        const size_t jc = q * kNC, w = std::min(kNC, n - jc);
        Pack(kc, w, b + pc * ldb + jc, ldb, NR, bpack + pc * npad + jc * kc);
      } else {
        const size_t ic = (q - njb) * kMC, h = std::min(kMC, m - ic);
        Pack(kc, h, a + pc * lda + ic, lda, MR, apack + pc * mpad + ic * kc);
      }
    }
  });
  // Items: groups of up to 4 MC-row blocks × NC columns; inside an item the KC loop is outside the
  // row blocks, so the packed kc×NC block of B is reused from L2 by every row block of the item.
  // Small products use smaller items so that every thread gets work (tiling changes no result).
  const size_t t_max = static_cast<size_t>(ResolveThreads(threads));
  size_t mc = kMC, nc = kNC, group = 4;
  auto count = [&]() {
    size_t c = 0;
    for (size_t jc = 0; jc < n; jc += nc)
      for (size_t ic = 0; ic < m; ic += mc * group) c += !(upper_only && std::min(n, jc + nc) <= ic);
    return c;
  };
  while (group > 1 && count() < 8 * t_max) group /= 2;
  if (count() < 4 * t_max) { mc = kMC / 2; nc = 192; }
  if (count() < 4 * t_max) nc = 96;
  std::vector<std::pair<size_t, size_t>> items;
  for (size_t jc = 0; jc < n; jc += nc)
    for (size_t ic = 0; ic < m; ic += mc * group) {
      if (upper_only && std::min(n, jc + nc) <= ic) continue;
      items.emplace_back(ic, jc);
    }
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    for (size_t it = next.fetch_add(1); it < items.size(); it = next.fetch_add(1)) {
      const size_t ig = items[it].first, jc = items[it].second;
      const size_t ie = std::min(m, ig + mc * group), nw = std::min(nc, n - jc);
      for (size_t pc = 0; pc < k; pc += kKC) {
        const size_t kc = std::min(kKC, k - pc);
        const T* bblk = bpack + pc * npad + jc * kc;
        const T* ablk = apack + pc * mpad;
        for (size_t ic = ig; ic < ie; ic += mc) {
          const size_t mh = std::min(mc, ie - ic);
          if (upper_only && jc + nw <= ic) continue;
          for (size_t ir = 0; ir < mh; ir += MR) {
            const size_t mr = std::min(MR, mh - ir);
            for (size_t jr = 0; jr < nw; jr += NR) {
              const size_t nr = std::min(NR, nw - jr);
              if (upper_only && jc + jr + nr <= ic + ir) continue;
              isa.kernel(kc, ablk + (ic + ir) * kc, bblk + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc, mr, nr, alpha,
                         pc == 0 ? beta : 1.0);
            }
          }
        }
      }
    }
  };
  const size_t t = std::min(t_max, items.size());
  RunChunks(t, [&](size_t) { worker(); });
}

}  // namespace

const char* GemmIsa() { return CurrentIsa<double>().name; }

void GemmKMajor(size_t m, size_t n, size_t k, double alpha, const double* a, size_t lda,
                const double* b, size_t ldb, double* c, size_t ldc, int threads, bool upper_only, double beta) {
  Gemm<double>(m, n, k, alpha, a, lda, b, ldb, c, ldc, threads, upper_only, beta);
}

void GemmKMajorF32(size_t m, size_t n, size_t k, double alpha, const float* a, size_t lda,
                   const float* b, size_t ldb, double* c, size_t ldc, int threads, bool upper_only, double beta) {
  Gemm<float>(m, n, k, alpha, a, lda, b, ldb, c, ldc, threads, upper_only, beta);
}

void GemmKMajorF32C32(size_t m, size_t n, size_t k, double alpha, const float* a, size_t lda,
                      const float* b, size_t ldb, float* c, size_t ldc, int threads, double beta,
                      bool upper_only) {
  Gemm<float, float>(m, n, k, alpha, a, lda, b, ldb, c, ldc, threads, upper_only, beta);
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
