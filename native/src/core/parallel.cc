// Fork-join over a process-wide pool of worker threads (see parallel.h). A kernel forks hundreds of
// times per call (GPTQ: the in-block step, the lazy GEMMs and the Cholesky's panels, per 128 columns);
// a fresh std::thread per fork cost ≈ 50 µs on the bench VM, plus the first-touch faults of its
// thread-local buffers. Workers start on first use (one fewer than the cores), spin briefly when idle
// so that back-to-back forks find them awake, then sleep. The caller claims chunks too: a fork never
// waits for a worker to become free, so nested or concurrent forks (kernels on several libuv
// threads) cannot deadlock; they just run on fewer threads. Which thread runs a chunk never changes
// the chunk's bounds, so results stay independent of the thread count.
#include "lowbit/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOWBIT_PAUSE() _mm_pause()
#else
#define LOWBIT_PAUSE() std::this_thread::yield()
#endif

namespace lowbit {
namespace {

struct Job {
  const std::function<void(size_t)>* run;
  size_t chunks;
  std::atomic<size_t> next{0};
  size_t users = 0;  // workers inside the job (under the pool's mutex)
};

class Pool {
 public:
  static Pool& Get() {
    static Pool* pool = new Pool();  // never destroyed: workers may outlive static teardown
    return *pool;
  }

  void Run(size_t chunks, const std::function<void(size_t)>& run) {
    Job job;
    job.run = &run;
    job.chunks = chunks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      EnsureWorkers();
      jobs_.push_back(&job);
      posted_.fetch_add(1, std::memory_order_release);
    }
    work_.notify_all();
    std::exception_ptr error;
    try {
      for (size_t c = job.next.fetch_add(1); c < chunks; c = job.next.fetch_add(1)) run(c);
    } catch (...) {  // e.g. std::bad_alloc: no worker may still see the job when the frame goes
      job.next.store(chunks);
      error = std::current_exception();
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      jobs_.erase(std::find(jobs_.begin(), jobs_.end(), &job));
      left_.wait(lock, [&] { return job.users == 0; });
    }
    if (error) std::rethrow_exception(error);
  }

 private:
  void EnsureWorkers() {
    if (started_) return;
    started_ = true;
    const unsigned hw = std::thread::hardware_concurrency();
    const size_t n = hw > 1 ? hw - 1 : 1;
    for (size_t i = 0; i < n; ++i) std::thread([this] { Work(); }).detach();
  }

  void Work() {
    uint64_t seen = posted_.load(std::memory_order_acquire);
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
          for (Job* j : jobs_)
            if (j->next.load(std::memory_order_relaxed) < j->chunks) {
              job = j;
              break;
            }
          if (job) break;
          // Idle: spin for a while outside the lock (forks come in quick succession), then sleep.
          seen = posted_.load(std::memory_order_acquire);
          lock.unlock();
          const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
          bool posted = false;
          while (!posted && std::chrono::steady_clock::now() < until) {
            for (int i = 0; i < 64 && !posted; ++i) {
              LOWBIT_PAUSE();
              posted = posted_.load(std::memory_order_acquire) != seen;
            }
          }
          lock.lock();
          if (!posted) work_.wait(lock, [&] { return posted_.load(std::memory_order_acquire) != seen; });
        }
        ++job->users;
      }
      for (size_t c = job->next.fetch_add(1); c < job->chunks; c = job->next.fetch_add(1)) (*job->run)(c);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (--job->users == 0) left_.notify_all();
      }
    }
  }

  std::mutex mu_;
  std::condition_variable work_, left_;
  std::deque<Job*> jobs_;
  std::atomic<uint64_t> posted_{0};
  bool started_ = false;
};

}  // namespace

int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void RunChunks(size_t chunks, const std::function<void(size_t)>& run) {
  if (chunks == 0) return;
  if (chunks == 1) {
    run(0);
    return;
  }
  Pool::Get().Run(chunks, run);
}

void ParallelFor(size_t n, int threads, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  size_t units = (n + grain - 1) / grain;
  size_t t = std::min<size_t>(static_cast<size_t>(ResolveThreads(threads)), units);
  if (t <= 1) { fn(0, n); return; }
  const size_t per = (units + t - 1) / t;
  RunChunks(t, [&](size_t k) {
    const size_t b = std::min(n, k * per * grain), e = std::min(n, (k + 1) * per * grain);
    if (b < e) fn(b, e);
  });
}

}  // namespace lowbit
