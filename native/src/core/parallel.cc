// Static fork-join partitioning over std::thread (see parallel.h).
#include "lowbit/parallel.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace lowbit {

int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void ParallelFor(size_t n, int threads, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  size_t units = (n + grain - 1) / grain;
  size_t t = std::min<size_t>(static_cast<size_t>(ResolveThreads(threads)), units);
  if (t <= 1) { fn(0, n); return; }
  std::vector<std::thread> pool;
  pool.reserve(t - 1);
  size_t per = (units + t - 1) / t;
  for (size_t k = 1; k < t; ++k) {
    size_t b = std::min(n, k * per * grain), e = std::min(n, (k + 1) * per * grain);
    if (b < e) pool.emplace_back(fn, b, e);
  }
  fn(0, std::min(n, per * grain));
  for (auto& th : pool) th.join();
}

}  // namespace lowbit
