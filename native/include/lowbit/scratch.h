// Reused memory for the large per-call work buffers of the solvers (GPTQ's accumulator and n×n
// factor, the fp64 solve's copy of W, the GEMM's packed operands) and for the kernels' result arrays
// (OutputVector, output_vector.h). A fresh multi-hundred-MB buffer costs its first-touch page faults on
// every call (≈ 1.5 s per 128 MiB on the Firecracker VMs we bench on, where freed pages go back to the
// host); released buffers are kept in two small process-wide pools instead, up to LOWBIT_SCRATCH_MB
// (work buffers, default 512) and LOWBIT_OUTPUT_POOL_MB (results, default 256; 0 = keep none).
// Buffers of under 2 MiB bypass the pools.
#pragma once
#include <cstddef>

namespace lowbit {

/** An uninitialized, 64-byte-aligned buffer of `count` doubles; returned to the pool when destroyed. */
class ScratchDoubles {
 public:
  explicit ScratchDoubles(size_t count);
  ~ScratchDoubles();
  ScratchDoubles(const ScratchDoubles&) = delete;
  ScratchDoubles& operator=(const ScratchDoubles&) = delete;
  double* get() const { return data_; }

 private:
  double* data_;
  size_t bytes_, align_;
};

/** The same pool for `count` floats (GPTQ's fp32 working buffers). */
class ScratchFloats {
 public:
  explicit ScratchFloats(size_t count) : d_((count + 1) / 2) {}
  float* get() const { return reinterpret_cast<float*>(d_.get()); }

 private:
  ScratchDoubles d_;
};

/** Frees every pooled buffer of both pools now (memory goes back to the system); returns the bytes freed. */
size_t ReleaseScratch();

}  // namespace lowbit
