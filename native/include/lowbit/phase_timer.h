// Env-gated phase timer for profiling kernels without perf: when LOWBIT_PROFILE is set, each
// PhaseTimer prints "<name>: <phase> <wall> s (cpu <cpu> s) ..." to stderr when it goes out of scope;
// otherwise Mark() costs one branch. Wall = steady_clock; cpu = the process's CPU time over all
// threads (on a loaded shared machine the CPU seconds are the steadier measure of work).
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace lowbit {

class PhaseTimer {
 public:
  explicit PhaseTimer(const char* name) : name_(name), on_(std::getenv("LOWBIT_PROFILE") != nullptr) {
    if (on_) {
      last_ = std::chrono::steady_clock::now();
      last_cpu_ = Cpu();
    }
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
    const double cpu = Cpu();
    char buf[128];
    std::snprintf(buf, sizeof buf, " %s %.3f s (cpu %.3f s)", phase, std::chrono::duration<double>(now - last_).count(),
                  cpu - last_cpu_);
    line_ += buf;
    last_ = now;
    last_cpu_ = cpu;
  }
  /** Adds the wall and CPU time since the previous Mark to acc[0], acc[1] (phases inside a loop). */
  void Add(double* acc) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    const double cpu = Cpu();
    acc[0] += std::chrono::duration<double>(now - last_).count();
    acc[1] += cpu - last_cpu_;
    last_ = now;
    last_cpu_ = cpu;
  }
  /** Appends a phase accumulated by Add. */
  void Report(const char* phase, const double* acc) {
    if (!on_) return;
    char buf[128];
    std::snprintf(buf, sizeof buf, " %s %.3f s (cpu %.3f s)", phase, acc[0], acc[1]);
    line_ += buf;
  }
  bool on() const { return on_; }

 private:
  static double Cpu() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  const char* name_;
  bool on_;
  std::chrono::steady_clock::time_point last_;
  double last_cpu_ = 0.0;
  std::string line_;
};

}  // namespace lowbit
