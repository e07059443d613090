// A tiny fork-join helper: static partition of [0, n) into contiguous chunks, one std::thread each.
// Every index is processed by exactly one thread with the same code, so results are independent of
// the thread count as long as the callee does not reduce across indices.
#pragma once
#include <cstddef>
#include <functional>

namespace lowbit {

/** Number of worker threads to use for `requested` (0 = hardware concurrency, at least 1). */
int ResolveThreads(int requested);

/** Runs fn(begin, end) over contiguous chunks of [0, n) on up to `threads` threads; chunks are
 *  aligned to `grain` items. Runs inline when one thread suffices. */
void ParallelFor(size_t n, int threads, size_t grain, const std::function<void(size_t, size_t)>& fn);

}  // namespace lowbit
