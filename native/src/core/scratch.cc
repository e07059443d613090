// Process-wide pool of large scratch buffers (see scratch.h). Best fit among the pooled buffers that
// are at least the request and at most twice it; when none fits, the pool is emptied before a new
// buffer is allocated, so that pooled memory never adds to the peak of a call that cannot use it.
#include "lowbit/scratch.h"

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <cstddef>
#include <new>
#include <string>
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
  std::mutex mu;
  std::vector<Block> free;  // oldest first
  size_t held = 0;
};

Pool& ThePool() {
  static Pool* pool = new Pool();  // never destroyed: buffers may be returned during static teardown
  return *pool;
}

size_t CapBytes() {
  static const size_t cap = [] {
    const char* v = std::getenv("LOWBIT_SCRATCH_MB");
    if (!v || !*v) return size_t{512} << 20;
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(v, &end, 10);
    return end && *end == '\0' ? static_cast<size_t>(mb) << 20 : size_t{512} << 20;
  }();
  return cap;
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

Block Take(size_t bytes) {
  if (bytes >= kMinPooled && CapBytes() > 0) {
    Pool& pool = ThePool();
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
      drop.swap(pool.free);
      pool.held = 0;
    }
    for (const Block& b : drop) FreeBlock(b);
  }
  return AllocateBlock(bytes);
}

void Give(const Block& b) {
  if (b.align != kHuge || b.bytes > CapBytes()) {
    FreeBlock(b);
    return;
  }
  Pool& pool = ThePool();
  std::vector<Block> drop;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    pool.free.push_back(b);
    pool.held += b.bytes;
    while (pool.held > CapBytes()) {  // evict the oldest
      drop.push_back(pool.free.front());
      pool.held -= pool.free.front().bytes;
      pool.free.erase(pool.free.begin());
    }
  }
  for (const Block& d : drop) FreeBlock(d);
}

}  // namespace

ScratchDoubles::ScratchDoubles(size_t count) {
  const Block b = Take(count * sizeof(double));
  data_ = static_cast<double*>(b.p);
  bytes_ = b.bytes;
  align_ = b.align;
}

ScratchDoubles::~ScratchDoubles() { Give({data_, bytes_, align_}); }

void AdviseHugePages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes < kMinPooled) return;
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(uintptr_t{kHuge} - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(uintptr_t{kHuge} - 1);
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

void* AllocateOutput(size_t bytes) {
  if (bytes < kHuge) return ::operator new(bytes == 0 ? 64 : bytes, std::align_val_t(64));
  const size_t size = (bytes + kHuge - 1) / kHuge * kHuge;  // whole huge pages, the last one included
  void* p = ::operator new(size, std::align_val_t(kHuge));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, size, MADV_HUGEPAGE);
#endif
  return p;
}

void FreeOutput(void* p, size_t bytes) noexcept { ::operator delete(p, std::align_val_t(bytes < kHuge ? 64 : kHuge)); }

size_t ReleaseScratch() {
  Pool& pool = ThePool();
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

}  // namespace lowbit
