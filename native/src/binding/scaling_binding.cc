// Bindings for the activation-aware scaling kernels (AWQ / OS+ scale search, AWQ clip search).
// Arguments are validated in native/ts/scaling.ts first; here they are re-checked cheaply and copied.
#include <napi.h>

#include <cstring>
#include <memory>

#include "job_worker.h"
#include "lowbit/scale_search.h"

namespace lowbit_binding {
namespace {

int IntOf(const Napi::Object& o, const char* key, int def) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : def;
}
bool BoolOf(const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : def;
}
lowbit::GridSpec GridOf(const Napi::Object& o) {
  lowbit::GridSpec g;
  g.bits = IntOf(o, "bits", 4);
  g.symmetric = BoolOf(o, "symmetric", false);
  g.mse_clip = BoolOf(o, "mseClip", false);
  return g;
}
template <typename T, typename Arr>
Arr Typed(Napi::Env env, const std::vector<T>& v) {
  Arr a = Arr::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}
Napi::Object WeightToJs(Napi::Env env, const lowbit::QuantizedWeight& q) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rows", q.rows); o.Set("cols", q.cols); o.Set("bits", q.bits);
  o.Set("groupSize", q.group_size); o.Set("symmetric", q.symmetric);
  o.Set("codes", Typed<uint8_t, Napi::Uint8Array>(env, q.codes));
  o.Set("scales", Typed<float, Napi::Float32Array>(env, q.scales));
  o.Set("zeros", Typed<uint8_t, Napi::Uint8Array>(env, q.zeros));
  o.Set("dequant", Typed<float, Napi::Float32Array>(env, q.dequant));
  return o;
}

// scaleSearch(w, rows, cols, H, cand Float64Array k×cols, k, opts, progress?) → { promise, cancel }
Napi::Value ScaleSearchJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int rows = info[1].As<Napi::Number>().Int32Value(), cols = info[2].As<Napi::Number>().Int32Value();
  const int k = info[5].As<Napi::Number>().Int32Value();
  auto w = std::make_shared<std::vector<float>>(CopyTyped<float, napi_float32_array>(env, info[0], size_t(rows) * cols, "w"));
  auto h = std::make_shared<std::vector<double>>(CopyTyped<double, napi_float64_array>(env, info[3], size_t(cols) * cols, "H"));
  auto cand = std::make_shared<std::vector<double>>(CopyTyped<double, napi_float64_array>(env, info[4], size_t(k) * cols, "candidates"));
  Napi::Object o = info[6].As<Napi::Object>();
  const lowbit::GridSpec grid = GridOf(o);
  const int group = IntOf(o, "groupSize", -1);
  auto out = std::make_shared<lowbit::ScaleSearchResult>();
  Napi::Function progress = info.Length() > 7 && info[7].IsFunction() ? info[7].As<Napi::Function>() : Napi::Function();
  auto* worker = new JobWorker(env, progress, IntOf(o, "threads", 0),
      [=](const lowbit::JobControl& ctl) { return lowbit::ScaleSearch(w->data(), rows, cols, h->data(), cand->data(), k, group, grid, ctl, out.get()); },
      [=](Napi::Env e) -> Napi::Value {
        Napi::Object r = Napi::Object::New(e);
        r.Set("best", out->best);
        r.Set("losses", Typed<double, Napi::Float64Array>(e, out->losses));
        return r;
      });
  return worker->Start(env);
}

// clipSearch(w, rows, cols, H, opts{steps}) → { promise, cancel }
Napi::Value ClipSearchJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int rows = info[1].As<Napi::Number>().Int32Value(), cols = info[2].As<Napi::Number>().Int32Value();
  auto w = std::make_shared<std::vector<float>>(CopyTyped<float, napi_float32_array>(env, info[0], size_t(rows) * cols, "w"));
  auto h = std::make_shared<std::vector<double>>(CopyTyped<double, napi_float64_array>(env, info[3], size_t(cols) * cols, "H"));
  Napi::Object o = info[4].As<Napi::Object>();
  const lowbit::GridSpec grid = GridOf(o);
  const int group = IntOf(o, "groupSize", -1), steps = IntOf(o, "steps", 10);
  auto ratios = std::make_shared<std::vector<float>>();
  auto q = std::make_shared<lowbit::QuantizedWeight>();
  auto* worker = new JobWorker(env, Napi::Function(), IntOf(o, "threads", 0),
      [=](const lowbit::JobControl& ctl) { return lowbit::ClipSearch(w->data(), rows, cols, h->data(), group, grid, steps, ctl, ratios.get(), q.get()); },
      [=](Napi::Env e) -> Napi::Value {
        Napi::Object r = Napi::Object::New(e);
        r.Set("clipRatios", Typed<float, Napi::Float32Array>(e, *ratios));
        r.Set("weight", WeightToJs(e, *q));
        return r;
      });
  return worker->Start(env);
}

}  // namespace

/** Registers scaleSearch and clipSearch on the addon's exports. */
void RegisterScaling(Napi::Env env, Napi::Object exports) {
  exports.Set("scaleSearch", Napi::Function::New(env, ScaleSearchJs));
  exports.Set("clipSearch", Napi::Function::New(env, ClipSearchJs));
}

}  // namespace lowbit_binding
