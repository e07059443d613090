// Bindings for the activation-aware scaling kernels (AWQ / OS+ scale search, AWQ clip search), async
// with the kernel_worker.h contract. Arguments are validated in native/ts/scaling.ts first.
#include <napi.h>

#include <memory>

#include "kernel_worker.h"
#include "lowbit/scale_search.h"

namespace lowbit::binding {
namespace {

// scaleSearch(w, rows, cols, H, cand: Float64Array k×cols, k, {bits, groupSize, symmetric}, ctl)
//   → Promise<{best, losses}>
Napi::Value ScaleSearchJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const int k = DimArg(info, 5, "k");
  const double* h = in.Pin<double>(info[3], size_t(w.cols) * w.cols, "H");
  const double* cand = in.Pin<double>(info[4], size_t(k) * w.cols, "candidates");
  Napi::Object o = OptionsArg(info, 6);
  const GridSpec grid = GridOptions(o);
  const int group = IntOption(o, "groupSize", -1);
  auto out = std::make_shared<ScaleSearchResult>();
  return KernelWorker::Start(info.Env(), info[7], std::move(in),
      [=](const JobControl& ctl) { return ScaleSearch(w.data, w.rows, w.cols, h, cand, k, group, grid, ctl, out.get()); },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("best", out->best);
        r.Set("losses", AdoptTyped(env, std::move(out->losses)));
        return r;
      });
}

// clipSearch(w.data, w.rows, w.cols, H, {bits, groupSize, symmetric, steps}, ctl) → Promise<{clipRatios, weight}>
Napi::Value ClipSearchJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* h = in.Pin<double>(info[3], size_t(w.cols) * w.cols, "H");
  Napi::Object o = OptionsArg(info, 4);
  const GridSpec grid = GridOptions(o);
  const int group = IntOption(o, "groupSize", -1), steps = IntOption(o, "steps", 10);
  struct Out { std::vector<float> ratios; QuantizedWeight q; };
  auto out = std::make_shared<Out>();
  return KernelWorker::Start(info.Env(), info[5], std::move(in),
      [=](const JobControl& ctl) { return ClipSearch(w.data, w.rows, w.cols, h, group, grid, steps, ctl, &out->ratios, &out->q); },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("clipRatios", AdoptTyped(env, std::move(out->ratios)));
        r.Set("weight", QuantizedWeightToJs(env, std::move(out->q)));
        return r;
      });
}

}  // namespace

/** Registers scaleSearch and clipSearch on the addon's exports. */
void RegisterScaling(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {
      {"scaleSearch", ScaleSearchJs},
      {"clipSearch", ClipSearchJs},
  });
}

}  // namespace lowbit::binding
