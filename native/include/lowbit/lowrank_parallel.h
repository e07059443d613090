// Inline fork-join over contiguous row ranges for the binarization / low-rank kernels. Each index
// is handled by exactly one thread with identical code, so results do not depend on `threads`.
#pragma once
#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace lowbit {

/** Runs fn(begin, end) over up to `threads` contiguous chunks of [0, n) (0 = all cores). */
template <typename Fn>
inline void ParallelRows(size_t n, int threads, Fn&& fn) {
  int t = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  t = static_cast<int>(std::min<size_t>(static_cast<size_t>(t), n));
  if (t <= 1 || n < 4) { if (n) fn(size_t{0}, n); return; }
  std::vector<std::thread> pool;
  size_t chunk = (n + t - 1) / t;
  for (int i = 0; i < t; ++i) {
    size_t b = i * chunk, e = std::min(n, b + chunk);
    if (b >= e) break;
    pool.emplace_back([&fn, b, e] { fn(b, e); });
  }
  for (auto& th : pool) th.join();
}

}  // namespace lowbit
