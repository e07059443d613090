// Env-gated phase timer for profiling kernels without perf: when LOWBIT_PROFILE is set, each
// PhaseTimer prints "<name>: <phase> <wall> s (cpu <cpu> s[, <n> faults]) ..." to stderr when it goes
// out of scope (faults: the process's minor page faults in the phase, when any — first touches);
// otherwise Mark() costs one branch. Wall = steady_clock; cpu = the process's CPU time over all
// threads (on a loaded shared machine the CPU seconds are the steadier measure of work).
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sys/resource.h>
#include <string>

namespace lowbit {

class PhaseTimer {
 public:
  explicit PhaseTimer(const char* name) : name_(name), on_(std::getenv("LOWBIT_PROFILE") != nullptr) {
    if (on_) {
      last_ = std::chrono::steady_clock::now();
      last_cpu_ = Cpu();
      last_faults_ = Faults();
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
    const long faults = Faults();
    char buf[160];
    if (faults > last_faults_)
      std::snprintf(buf, sizeof buf, " %s %.3f s (cpu %.3f s, %ld faults)", phase,
                    std::chrono::duration<double>(now - last_).count(), cpu - last_cpu_, faults - last_faults_);
    else
      std::snprintf(buf, sizeof buf, " %s %.3f s (cpu %.3f s)", phase, std::chrono::duration<double>(now - last_).count(),
                    cpu - last_cpu_);
    line_ += buf;
    last_ = now;
    last_cpu_ = cpu;
    last_faults_ = faults;
  }
  /** Adds the wall and CPU time and page faults since the previous Mark to acc[0..2] (phases inside a loop). */
  void Add(double* acc) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    const double cpu = Cpu();
    const long faults = Faults();
    acc[0] += std::chrono::duration<double>(now - last_).count();
    acc[1] += cpu - last_cpu_;
    acc[2] += static_cast<double>(faults - last_faults_);
    last_ = now;
    last_cpu_ = cpu;
    last_faults_ = faults;
  }
  /** Appends a phase accumulated by Add. */
  void Report(const char* phase, const double* acc) {
    if (!on_) return;
    char buf[160];
    if (acc[2] > 0)
      std::snprintf(buf, sizeof buf, " %s %.3f s (cpu %.3f s, %.0f faults)", phase, acc[0], acc[1], acc[2]);
    else
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
  static long Faults() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
  }
  const char* name_;
  bool on_;
  std::chrono::steady_clock::time_point last_;
  double last_cpu_ = 0.0;
  long last_faults_ = 0;
  std::string line_;
};

}  // namespace lowbit
