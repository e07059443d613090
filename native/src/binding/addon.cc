// N-API entry point: exports only. Each kernel family's binding lives in its own file; the shared
// async-job contract (and the lbCreateToken / lbCancel pair) in kernel_worker.h.
#include <napi.h>

#include "kernel_worker.h"

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

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace lowbit::binding;
  exports.Set("version", Napi::Function::New(env, Version));
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
