// Process-wide pools of large buffers (see scratch.h): the solvers' work buffers, and the result
// arrays JS adopts. Best fit among the pooled buffers that are at least the request and at most twice
// it; when none fits, the work-buffer pool is emptied before a new buffer is allocated, so that pooled
// memory never adds to the peak of a call that cannot use it.
#include "lowbit/scratch.h"

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <cstddef>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "lowbit/output_vector.h"

namespace lowbit {
namespace {

constexpr size_t kMinPooled = size_t{2} << 20;
constexpr size_t kHuge = size_t{2} << 20;

struct Block {
  void* p;
  size_t bytes;  // capacity
  size_t align;  // the alignment it was allocated with (aligned operator new: portable, MSVC included)
};

void FreeBlock(const Block& b) { ::operator delete(b.p, std::align_val_t(b.align)); }

struct Pool {
  Pool(size_t c, bool e) : cap(c), empty_on_miss(e) {}
  const size_t cap;          // bytes kept at most
  const bool empty_on_miss;  // free what is kept before allocating a block none of it fits
  std::mutex mu;
  std::vector<Block> free;  // oldest first
  size_t held = 0;
};

size_t EnvMegabytes(const char* name, size_t def_mb) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def_mb << 20;
  char* end = nullptr;
  const unsigned long long mb = std::strtoull(v, &end, 10);
  return end && *end == '\0' ? static_cast<size_t>(mb) << 20 : def_mb << 20;
}

// Work buffers: emptied on a miss, so that pooled memory never adds to the peak of a call that cannot use it.
Pool& ScratchPool() {
  // Never destroyed (either pool): buffers may be returned during static teardown.
  static Pool* pool = new Pool(EnvMegabytes("LOWBIT_SCRATCH_MB", 512), true);
  return *pool;
}

// Result arrays (OutputVector): JS frees them when it collects the typed arrays over them, later than
// the call; they come back here and serve the next call's results of the same size. A miss allocates
// without emptying: the arrays still held by JS are what a miss usually means, not a new shape.
Pool& OutputPool() {
  static Pool* pool = new Pool(EnvMegabytes("LOWBIT_OUTPUT_POOL_MB", 256), false);
  return *pool;
}

Block AllocateBlock(size_t bytes) {
  if (bytes < kMinPooled) {
    const size_t size = (bytes + 64) / 64 * 64;  // never 0
    return {::operator new(size, std::align_val_t(64)), size, 64};  // throws std::bad_alloc
  }
  const size_t size = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = ::operator new(size, std::align_val_t(kHuge));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, size, MADV_HUGEPAGE);  // fewer first-touch faults; a hint only
#endif
  return {p, size, kHuge};
}

// Best fit among the kept blocks of at least `bytes` and at most twice that.
Block Take(Pool& pool, size_t bytes) {
  if (bytes >= kMinPooled && pool.cap > 0) {
    std::vector<Block> drop;
    {
      std::lock_guard<std::mutex> lock(pool.mu);
      size_t best = pool.free.size();
      for (size_t i = 0; i < pool.free.size(); ++i) {
        const size_t b = pool.free[i].bytes;
        if (b >= bytes && b / 2 <= bytes && (best == pool.free.size() || b < pool.free[best].bytes)) best = i;
      }
      if (best < pool.free.size()) {
        const Block b = pool.free[best];
        pool.held -= b.bytes;
        pool.free.erase(pool.free.begin() + static_cast<std::ptrdiff_t>(best));
        return b;
      }
      if (pool.empty_on_miss) {
        drop.swap(pool.free);
        pool.held = 0;
      }
    }
    for (const Block& b : drop) FreeBlock(b);
  }
  return AllocateBlock(bytes);
}

void Give(Pool& pool, const Block& b) {
  if (b.align != kHuge || b.bytes > pool.cap) {
    FreeBlock(b);
    return;
  }
  std::vector<Block> drop;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    pool.free.push_back(b);
    pool.held += b.bytes;
    while (pool.held > pool.cap) {  // evict the oldest
      drop.push_back(pool.free.front());
      pool.held -= pool.free.front().bytes;
      pool.free.erase(pool.free.begin());
    }
  }
  for (const Block& d : drop) FreeBlock(d);
}

size_t Release(Pool& pool) {
  std::vector<Block> drop;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    drop.swap(pool.free);
    pool.held = 0;
  }
  size_t freed = 0;
  for (const Block& b : drop) {
    freed += b.bytes;
    FreeBlock(b);
  }
  return freed;
}

// The capacity of each output block lent out, by address (the vector gives back only its byte count).
std::mutex& LentMutex() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}
std::unordered_map<void*, Block>& Lent() {
  static auto* lent = new std::unordered_map<void*, Block>();
  return *lent;
}

}  // namespace

void* AllocateOutput(size_t bytes) {
  if (bytes < kHuge) return ::operator new(bytes == 0 ? 64 : bytes, std::align_val_t(64));
  const Block b = Take(OutputPool(), bytes);
  std::lock_guard<std::mutex> lock(LentMutex());
  Lent()[b.p] = b;
  return b.p;
}

void FreeOutput(void* p, size_t bytes) noexcept {
  if (bytes < kHuge) {
    ::operator delete(p, std::align_val_t(64));
    return;
  }
  Block b{p, 0, kHuge};
  {
    std::lock_guard<std::mutex> lock(LentMutex());
    auto it = Lent().find(p);
    if (it == Lent().end()) {  // not lent by AllocateOutput: cannot happen through OutputAllocator
      FreeBlock(b);
      return;
    }
    b = it->second;
    Lent().erase(it);
  }
  Give(OutputPool(), b);
}

ScratchDoubles::ScratchDoubles(size_t count) {
  const Block b = Take(ScratchPool(), count * sizeof(double));
  data_ = static_cast<double*>(b.p);
  bytes_ = b.bytes;
  align_ = b.align;
}

ScratchDoubles::~ScratchDoubles() { Give(ScratchPool(), {data_, bytes_, align_}); }

size_t ReleaseScratch() { return Release(ScratchPool()) + Release(OutputPool()); }

}  // namespace lowbit
