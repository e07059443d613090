// OutputVector<T>: the std::vector of the kernels' large results (codes, dequantized weights), which
// JS adopts as external ArrayBuffers. Its allocator differs from std::allocator twice: blocks of 2 MiB
// and more come from the scratch pool (2 MiB aligned, on transparent huge pages) and go back to it
// when freed, so that a kernel called layer after layer reuses warm pages instead of first-touching
// fresh ones (an unaligned fresh block also paid ≈ 1000 4 KiB faults at its two ends); and resize()
// leaves trivially constructible elements uninitialized, so that the caller can touch the pages on
// several threads (FillParallel).
#pragma once
#include <algorithm>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "lowbit/parallel.h"

namespace lowbit {

/** A block of `bytes` for OutputAllocator (from the scratch pool from 2 MiB up, else 64-byte
 *  aligned); FreeOutput takes the same byte count back (pooled blocks return to the pool). */
void* AllocateOutput(size_t bytes);
void FreeOutput(void* p, size_t bytes) noexcept;

template <typename T>
struct OutputAllocator {
  using value_type = T;
  OutputAllocator() noexcept = default;
  template <typename U>
  OutputAllocator(const OutputAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(AllocateOutput(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { FreeOutput(p, n * sizeof(T)); }
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible<U>::value) {
    ::new (static_cast<void*>(p)) U;  // default-init: no zeroing
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
template <typename T, typename U>
bool operator==(const OutputAllocator<T>&, const OutputAllocator<U>&) noexcept { return true; }
template <typename T, typename U>
bool operator!=(const OutputAllocator<T>&, const OutputAllocator<U>&) noexcept { return false; }

template <typename T>
using OutputVector = std::vector<T, OutputAllocator<T>>;

/** v = n copies of value, the pages first touched on up to `threads` threads (a fresh output's
 *  first-touch faults dominate its cost; they run in parallel). */
template <typename T>
void FillParallel(OutputVector<T>& v, size_t n, T value, int threads) {
  static_assert(std::is_trivially_copyable<T>::value, "FillParallel is for plain element types");
  v.clear();
  v.resize(n);  // uninitialized
  T* const p = v.data();
  ParallelFor(n, threads, size_t{1} << 20, [&](size_t b, size_t e) { std::fill(p + b, p + e, value); });
}

}  // namespace lowbit
