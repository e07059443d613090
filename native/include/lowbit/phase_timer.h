// Env-gated phase timer for profiling kernels without perf: when LOWBIT_PROFILE is set, each
// PhaseTimer prints "<name>: <phase> <seconds> s, ..." to stderr when it goes out of scope; otherwise
// Mark() costs one branch. Wall-clock (steady_clock) seconds, in the order the phases were marked.
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace lowbit {

class PhaseTimer {
 public:
  explicit PhaseTimer(const char* name) : name_(name), on_(std::getenv("LOWBIT_PROFILE") != nullptr) {
    if (on_) last_ = std::chrono::steady_clock::now();
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;
  ~PhaseTimer() {
    if (on_ && !line_.empty()) std::fprintf(stderr, "%s:%s\n", name_, line_.c_str());
  }
  /** Ends the phase that started at the previous Mark (or construction) and names it. */
  void Mark(const char* phase) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    char buf[96];
    std::snprintf(buf, sizeof buf, " %s %.3f s", phase, std::chrono::duration<double>(now - last_).count());
    line_ += buf;
    last_ = now;
  }
  /** Adds the time since the previous Mark to an accumulator (for phases inside a loop). */
  void Add(double* acc) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    *acc += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }
  /** Appends an accumulated phase. */
  void Report(const char* phase, double seconds) {
    if (!on_) return;
    char buf[96];
    std::snprintf(buf, sizeof buf, " %s %.3f s", phase, seconds);
    line_ += buf;
  }
  bool on() const { return on_; }

 private:
  const char* name_;
  bool on_;
  std::chrono::steady_clock::time_point last_;
  std::string line_;
};

}  // namespace lowbit
