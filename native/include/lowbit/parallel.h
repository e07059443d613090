// A tiny fork-join helper: static partition of [0, n) into contiguous chunks, run on a process-wide
// pool of worker threads and the caller (parallel.cc). Every index is processed by exactly one thread
// with the same code, so results are independent of the thread count as long as the callee does not
// reduce across indices. Chunks may run one after another on one thread: a callee must never wait
// for another chunk.
#pragma once
#include <cstddef>
#include <functional>

namespace lowbit {

/** Number of worker threads to use for `requested` (0 = hardware concurrency, at least 1). */
int ResolveThreads(int requested);

/** Runs run(0) … run(chunks − 1), each once, on the pool's workers and the calling thread; returns
 *  when all have returned. */
void RunChunks(size_t chunks, const std::function<void(size_t)>& run);

/** Runs fn(begin, end) over contiguous chunks of [0, n) on up to `threads` threads; chunks are
 *  aligned to `grain` items. Runs inline when one thread suffices. */
void ParallelFor(size_t n, int threads, size_t grain, const std::function<void(size_t, size_t)>& fn);

}  // namespace lowbit
