// N-API entry point: exports only. Each kernel's binding lives in its own file.
#include <napi.h>

namespace lowbit {
void RegisterBinarize(Napi::Env env, Napi::Object exports);
void RegisterLowRank(Napi::Env env, Napi::Object exports);
void RegisterQuant(Napi::Env env, Napi::Object exports);
}  // namespace lowbit
namespace lowbit_binding {
void RegisterScaling(Napi::Env env, Napi::Object exports);
}  // namespace lowbit_binding

static Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), "0.1.0");
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version));
  lowbit::RegisterBinarize(env, exports);
  lowbit::RegisterLowRank(env, exports);
  lowbit::RegisterQuant(env, exports);
  lowbit_binding::RegisterScaling(env, exports);
  return exports;
}

NODE_API_MODULE(lowbit_native, Init)
