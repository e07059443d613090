// N-API binding of the one-shot pruning kernels (Wanda, magnitude) followed by RTN of the survivors
// (async, see kernel_worker.h). SparseGPT runs through `gptq` with pruning options.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "kernel_worker.h"
#include "lowbit/jsq.h"
#include "lowbit/sparse.h"

namespace lowbit::binding {
namespace {

// pruneRtn(w, rows, cols, colScale: Float64Array(cols) | null, {bits, groupSize, symmetric, mseClip, sparsity,
// pruneN, pruneM, pruneOnly, scope: 'row' | 'layer'}, ctl) → Promise<QuantizedWeight & {keep}>.
// colScale null = magnitude |W|; Wanda passes ‖X_j‖₂.
Napi::Value PruneRtnJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* scale = in.PinOptional<double>(info[3], size_t(w.cols), "colScale");
  Napi::Object o = OptionsArg(info, 4);
  const GridSpec grid = GridOptions(o);
  const int group = IntOption(o, "groupSize", -1);
  const PruneSpec prune = PruneOptions(o);
  Napi::Value sv = o.Get("scope");
  const std::string scope = sv.IsString() ? sv.As<Napi::String>().Utf8Value() : "row";
  if (scope != "row" && scope != "layer") ThrowArg(info.Env(), "opts.scope must be 'row' or 'layer'");
  const PruneScope sc = scope == "row" ? PruneScope::kRow : PruneScope::kLayer;
  auto out = std::make_shared<QuantizedWeight>();
  auto keep = std::make_shared<std::vector<uint8_t>>();
  return KernelWorker::Start(info.Env(), info[5], std::move(in),
      [=](const JobControl& ctl) {
        Status st = CheckWeight(w.data, w.rows, w.cols, grid.bits, group);
        if (!st.ok()) return st;
        st = OneShotMask(w.data, w.rows, w.cols, scale, prune, sc, keep.get());
        if (!st.ok()) return st;
        return QuantizeMaskedRtn(w.data, w.rows, w.cols, group, grid, *keep, prune.quantize, ctl, out.get());
      },
      [out, keep](Napi::Env env) -> Napi::Value {
        Napi::Object r = QuantizedWeightToJs(env, std::move(*out));
        r.Set("keep", AdoptTyped(env, std::move(*keep)));
        return r;
      });
}

// jsqRangeTerm(w, rows, cols, xbar: Float64Array(T·cols), T, ctl) → Promise<Float64Array(rows·cols)>.
Napi::Value JsqRangeTermJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const int T = DimArg(info, 4, "T");
  const double* xbar = in.Pin<double>(info[3], size_t(T) * w.cols, "xbar");
  auto out = std::make_shared<std::vector<double>>(size_t(w.rows) * w.cols);
  return KernelWorker::Start(info.Env(), info[5], std::move(in),
      [=](const JobControl& ctl) { return JsqRangeTerm(w.data, w.rows, w.cols, xbar, T, ctl, out->data()); },
      [out](Napi::Env env) -> Napi::Value { return AdoptTyped(env, std::move(*out)); });
}

// jsqOutputError(wq, rows, cols, y: Float64Array(T·rows), xq: Float64Array(T·cols), T, ctl) → Promise<number>.
Napi::Value JsqOutputErrorJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> wq = in.PinMatrix<float>(info, "wq");
  const int T = DimArg(info, 5, "T");
  const double* y = in.Pin<double>(info[3], size_t(T) * wq.rows, "y");
  const double* xq = in.Pin<double>(info[4], size_t(T) * wq.cols, "xq");
  auto err = std::make_shared<double>(0.0);
  return KernelWorker::Start(info.Env(), info[6], std::move(in),
      [=](const JobControl& ctl) { return JsqOutputError(y, xq, wq.data, T, wq.rows, wq.cols, ctl, err.get()); },
      [err](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *err); });
}

}  // namespace

/** Adds the pruning kernels to the addon's exports. */
void RegisterSparse(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {
      {"pruneRtn", PruneRtnJs},
      {"jsqRangeTerm", JsqRangeTermJs},
      {"jsqOutputError", JsqOutputErrorJs},
  });
}

}  // namespace lowbit::binding
