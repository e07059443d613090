// N-API binding of the linear-method kernels: RTN and GPTQ (async, see kernel_worker.h), Hessian
// accumulation and relative error (synchronous, multithreaded). Errors carry `code` (E_SHAPE, ...).
#include <napi.h>

#include <memory>

#include "kernel_worker.h"
#include "lowbit/gptaq.h"
#include "lowbit/gptq.h"
#include "lowbit/hadamard.h"
#include "lowbit/hessian.h"
#include "lowbit/layer_error.h"
#include "lowbit/rtn.h"

namespace lowbit::binding {
namespace {

// rtn(w: Float32Array, rows, cols, {bits, groupSize, symmetric, mseClip}, ctl) → Promise<QuantizedWeight>
Napi::Value RtnJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  Napi::Object o = OptionsArg(info, 3);
  const GridSpec grid = GridOptions(o);
  const int group = IntOption(o, "groupSize", -1);
  auto out = std::make_shared<QuantizedWeight>();
  return KernelWorker::Start(info.Env(), info[4], std::move(in),
      [=](const JobControl& ctl) { return QuantizeRtn(w.data, w.rows, w.cols, group, grid, ctl, out.get()); },
      [out](Napi::Env env) -> Napi::Value { return QuantizedWeightToJs(env, std::move(*out)); });
}

GptqSpec GptqOptions(Napi::Object o) {
  GptqSpec spec;
  spec.grid = GridOptions(o);
  spec.group_size = IntOption(o, "groupSize", -1);
  spec.percdamp = NumberOption(o, "damp", 0.01);
  spec.block_size = IntOption(o, "blockSize", 128);
  spec.act_order = BoolOption(o, "actOrder", false);
  spec.static_groups = BoolOption(o, "staticGroups", false);
  spec.fp64_updates = BoolOption(o, "fp64Updates", false);
  spec.gptaq_alpha = NumberOption(o, "alpha", 0.25);
  spec.prune = PruneOptions(o);
  return spec;
}

Napi::Value GptqResultToJs(Napi::Env env, QuantizedWeight&& out, GptqStats&& stats) {
  Napi::Object r = QuantizedWeightToJs(env, std::move(out));
  r.Set("loss", stats.loss);
  r.Set("damp", stats.percdamp);
  r.Set("dampRetries", stats.damp_retries);
  if (!stats.keep.empty()) r.Set("keep", AdoptTyped(env, std::move(stats.keep)));
  return r;
}

// gptq(w.data, w.rows, w.cols, H: Float64Array, {bits, groupSize, symmetric, mseClip, damp, blockSize, actOrder,
// staticGroups, fp64Updates, naiveBaseline, sparsity, pruneN, pruneM, pruneOnly}, ctl) → Promise<QuantizedWeight &
// {loss, damp, dampRetries, keep?}>; with a sparsity (SparseGPT) `keep` is the rows×cols mask, 1 = kept.
// The core only reads w and H (damping and dead columns live in its own diagonal copy).
Napi::Value GptqJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* h = in.Pin<double>(info[3], size_t(w.cols) * w.cols, "H");
  Napi::Object o = OptionsArg(info, 4);
  const GptqSpec spec = GptqOptions(o);
  const bool naive = BoolOption(o, "naiveBaseline", false);  // benchmark only: naive triple-loop lazy update
  auto out = std::make_shared<QuantizedWeight>();
  auto stats = std::make_shared<GptqStats>();
  return KernelWorker::Start(info.Env(), info[5], std::move(in),
      [=](const JobControl& ctl) {
        return naive ? QuantizeGptqNaive(w.data, w.rows, w.cols, h, spec, ctl, out.get(), stats.get())
                     : QuantizeGptq(w.data, w.rows, w.cols, h, spec, ctl, out.get(), stats.get());
      },
      [out, stats](Napi::Env env) -> Napi::Value { return GptqResultToJs(env, std::move(*out), std::move(*stats)); });
}

// gptaq(w.data, w.rows, w.cols, H, D: Float64Array cols×cols, {…gptq options, alpha}, ctl) → as gptq.
Napi::Value GptaqJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* h = in.Pin<double>(info[3], size_t(w.cols) * w.cols, "H");
  const double* d = in.Pin<double>(info[4], size_t(w.cols) * w.cols, "D");
  const GptqSpec spec = GptqOptions(OptionsArg(info, 5));
  auto out = std::make_shared<QuantizedWeight>();
  auto stats = std::make_shared<GptqStats>();
  return KernelWorker::Start(info.Env(), info[6], std::move(in),
      [=](const JobControl& ctl) { return QuantizeGptaq(w.data, w.rows, w.cols, h, d, spec, ctl, out.get(), stats.get()); },
      [out, stats](Napi::Env env) -> Napi::Value { return GptqResultToJs(env, std::move(*out), std::move(*stats)); });
}

int ThreadsArg(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0; }

// hessianAdd(H: Float64Array n×n (updated in place), n, samples, x: Float32Array, tokens, threads) → samples
Napi::Value HessianAddJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int n = DimArg(info, 1, "n"), tokens = DimArg(info, 4, "tokens");
  Napi::Float64Array h = TypedArg<double>(info[0], size_t(n) * n, "H");
  Napi::Float32Array x = TypedArg<float>(info[3], size_t(tokens) * n, "x");
  double samples = info[2].As<Napi::Number>().DoubleValue();
  Status st = AccumulateHessian(h.Data(), n, &samples, x.Data(), tokens, ThreadsArg(info[5]));
  if (!st.ok()) throw StatusError(env, st);
  return Napi::Number::New(env, samples);
}

// crossAdd(D: Float64Array n×n (updated in place), n, samples, x: Float32Array, xq: Float32Array, tokens,
// threads) → samples (GPTAQ's D = (2/N)·Σ (x − x̃)x̃ᵀ)
Napi::Value CrossAddJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int n = DimArg(info, 1, "n"), tokens = DimArg(info, 5, "tokens");
  Napi::Float64Array d = TypedArg<double>(info[0], size_t(n) * n, "D");
  Napi::Float32Array x = TypedArg<float>(info[3], size_t(tokens) * n, "x");
  Napi::Float32Array xq = TypedArg<float>(info[4], size_t(tokens) * n, "xq");
  double samples = info[2].As<Napi::Number>().DoubleValue();
  Status st = AccumulateCross(d.Data(), n, &samples, x.Data(), xq.Data(), tokens, ThreadsArg(info[6]));
  if (!st.ok()) throw StatusError(env, st);
  return Napi::Number::New(env, samples);
}

// relativeError(w, what, rows, cols, H, threads) → tr(ΔHΔᵀ)/tr(WHWᵀ)
Napi::Value RelErrJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int rows = DimArg(info, 2, "rows"), cols = DimArg(info, 3, "cols");
  Napi::Float32Array w = TypedArg<float>(info[0], size_t(rows) * cols, "w");
  Napi::Float32Array what = TypedArg<float>(info[1], size_t(rows) * cols, "what");
  Napi::Float64Array h = TypedArg<double>(info[4], size_t(cols) * cols, "H");
  double result = 0;
  Status st = RelativeError(w.Data(), what.Data(), rows, cols, h.Data(), ThreadsArg(info[5]), &result);
  if (!st.ok()) throw StatusError(env, st);
  return Napi::Number::New(env, result);
}

// fwhtRows(v: Float64Array rows×p·m (in place), rows, p, m, threads): Sylvester H_p along each row's p axis.
Napi::Value FwhtRowsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int rows = DimArg(info, 1, "rows"), p = DimArg(info, 2, "p"), m = DimArg(info, 3, "m");
  Napi::Float64Array v = TypedArg<double>(info[0], size_t(rows) * p * m, "v");
  Status st = FwhtRows(v.Data(), size_t(rows), size_t(p), size_t(m), ThreadsArg(info[4]));
  if (!st.ok()) throw StatusError(env, st);
  return env.Undefined();
}

}  // namespace

/** Adds the linear-method kernels to the addon's exports. */
void RegisterQuant(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {
      {"rtn", RtnJs},
      {"gptq", GptqJs},
      {"gptaq", GptaqJs},
      {"crossAdd", CrossAddJs},
      {"hessianAdd", HessianAddJs},
      {"relativeError", RelErrJs},
      {"fwhtRows", FwhtRowsJs},
  });
}

}  // namespace lowbit::binding
