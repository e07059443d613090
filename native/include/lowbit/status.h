// Status, cancellation and progress plumbing shared by every kernel of the pure C++ core.
// The core never throws across threads: kernels return a Status and the binding maps its code.
#pragma once
#include <atomic>
#include <cstddef>
#include <functional>
#include <string>

namespace lowbit {

/** Error categories; the binding turns them into the Error.code strings E_SHAPE, E_NUMERIC, ... */
enum class Code { kOk = 0, kShape, kNumeric, kCancelled, kArg };

/** Result of a kernel: a code and a human-readable message naming the layer/column at fault. */
struct Status {
  Code code = Code::kOk;
  std::string message;
  bool ok() const { return code == Code::kOk; }
  static Status Ok() { return {}; }
  static Status Error(Code c, std::string m) { return {c, std::move(m)}; }
};

/** Returns the JS-side error code string for a Status code ("E_SHAPE", ...). */
const char* CodeName(Code code);

/** Cooperative job control: a cancel flag polled between column blocks, a progress callback and a
 *  thread count (0 = hardware concurrency). Results never depend on the thread count. */
struct JobControl {
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(size_t done, size_t total)> progress;
  int threads = 0;
  bool cancelled() const { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }
  void report(size_t done, size_t total) const { if (progress) progress(done, total); }
};

}  // namespace lowbit
