// The finiteness check of a large input (a layer's weights, a Hessian): every value is read, so the
// scan runs on every thread as a flag, and the first offending index is searched serially only when
// the flag is set (an error path).
#pragma once
#include <atomic>
#include <cmath>
#include <cstddef>

#include "lowbit/parallel.h"

namespace lowbit {

/** The index of the first non-finite value of p[0, n), or n when every value is finite. */
template <typename T>
size_t FirstNonFinite(const T* p, size_t n, int threads) {
  std::atomic<bool> bad{false};
  ParallelFor(n, threads, size_t{1} << 16, [&](size_t b, size_t e) {
    bool f = false;
    for (size_t i = b; i < e; ++i) f |= !std::isfinite(p[i]);
    if (f) bad.store(true);
  });
  if (!bad.load()) return n;
  size_t i = 0;
  while (i < n && std::isfinite(p[i])) ++i;
  return i;
}

}  // namespace lowbit
