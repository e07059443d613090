// N-API entry point: exports only. Each kernel family's binding lives in its own file; the shared
// async-job contract (and the lbCreateToken / lbCancel pair) in kernel_worker.h.
#include <napi.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "kernel_worker.h"
#include "lowbit/scratch.h"

namespace lowbit::binding {
void RegisterBinarize(Napi::Env env, Napi::Object exports);
void RegisterLowRank(Napi::Env env, Napi::Object exports);
void RegisterQuant(Napi::Env env, Napi::Object exports);
void RegisterRounding(Napi::Env env, Napi::Object exports);
void RegisterScaling(Napi::Env env, Napi::Object exports);
void RegisterSparse(Napi::Env env, Napi::Object exports);
}  // namespace lowbit::binding

static Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), "0.1.0");
}

// lbMallocPolicy(mmapThresholdBytes) → bool (glibc only; false elsewhere). Allocations of at least that
// size get their own mapping, returned to the OS when freed. It also stops glibc from raising the
// threshold (up to 32 MB) after each large free, which leaves later 1–32 MB blocks (onnxruntime's
// activations, solver buffers) in per-thread heaps: RSS then creeps up block after block.
static Napi::Value MallocPolicy(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  const int bytes = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : (1 << 20);
  return Napi::Boolean::New(info.Env(), mallopt(M_MMAP_THRESHOLD, bytes) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// lbMallocTrim() → bool: frees the solvers' pooled scratch buffers (lowbit/scratch.h), then hands the
// free memory of every heap back to the OS (glibc only; the pool is freed everywhere).
static Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  lowbit::ReleaseScratch();
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// lbReleaseScratch() → bytes: frees the solvers' pooled scratch buffers now.
static Napi::Value ReleaseScratch(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(lowbit::ReleaseScratch()));
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace lowbit::binding;
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("lbMallocPolicy", Napi::Function::New(env, MallocPolicy));
  exports.Set("lbMallocTrim", Napi::Function::New(env, MallocTrim));
  exports.Set("lbReleaseScratch", Napi::Function::New(env, ReleaseScratch));
  RegisterCancelTokens(env, exports);
  RegisterBinarize(env, exports);
  RegisterLowRank(env, exports);
  RegisterQuant(env, exports);
  RegisterRounding(env, exports);
  RegisterScaling(env, exports);
  RegisterSparse(env, exports);
  return exports;
}

NODE_API_MODULE(lowbit_native, Init)
