// N-API binding for the low-rank kernels: svd, r1Sketch, flrq, lorc, lqer (async, cancellable)
// and the synchronous quantizeSymAbsmax hook used by tests.
#include <napi.h>

#include "lowbit/lowrank.h"
#include "lowbit/lowrank_napi_worker.h"
#include "lowbit/sketch.h"
#include "lowbit/svd.h"

namespace lowbit {

namespace {

int Dim(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

template <typename T, typename A>
std::shared_ptr<std::vector<T>> ReadMat(const Napi::CallbackInfo& info, int rows, int cols, const char* what) {
  auto v = std::make_shared<std::vector<T>>(CopyTyped<T, A>(info[0], what));
  if (rows <= 0 || cols <= 0 || v->size() != (size_t)rows * cols)
    throw Napi::RangeError::New(info.Env(), std::string(what) + " has " + std::to_string(v->size()) + " values, expected " + std::to_string(rows) + "×" + std::to_string(cols));
  return v;
}

std::shared_ptr<std::vector<double>> OptHessian(const Napi::CallbackInfo& info, size_t i, int cols) {
  if (!info[i].IsTypedArray()) return nullptr;
  auto h = std::make_shared<std::vector<double>>(CopyTyped<double, Napi::Float64Array>(info[i], "H"));
  if (h->size() != (size_t)cols * cols) throw Napi::RangeError::New(info.Env(), "H must be cols×cols");
  return h;
}

std::shared_ptr<std::vector<float>> OptActMean(const Napi::CallbackInfo& info, size_t i, int cols) {
  if (!info[i].IsTypedArray()) return nullptr;
  auto a = std::make_shared<std::vector<float>>(CopyTyped<float, Napi::Float32Array>(info[i], "actMean"));
  if (a->size() != (size_t)cols) throw Napi::RangeError::New(info.Env(), "actMean must have cols entries");
  return a;
}

/** `quantizer`: "rtn" (default) or "gptq". */
ResidualQuantizer ReadQuantizer(Napi::Env env, const Napi::Object& o) {
  if (!o.Has("quantizer") || o.Get("quantizer").IsUndefined()) return ResidualQuantizer::kRtn;
  Napi::Value v = o.Get("quantizer");
  const std::string q = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  if (q == "rtn") return ResidualQuantizer::kRtn;
  if (q == "gptq") return ResidualQuantizer::kGptq;
  throw Napi::RangeError::New(env, "quantizer must be 'rtn' or 'gptq'");
}

Napi::Value Queue(Napi::Env env, std::function<Status(const JobControl&)> run,
                  std::function<Napi::Value(Napi::Env)> build, const Napi::Value& ctlv) {
  BinlrControlArgs c = ReadControl(ctlv);
  auto* wk = new BinlrWorker(env, std::move(run), std::move(build), c.cancel, c.threads, c.progress);
  Napi::Promise p = wk->Promise();
  wk->Queue();
  return p;
}

Napi::Object LowRankToJs(Napi::Env env, const LowRankResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("codes", MakeTyped<uint8_t, Napi::Uint8Array>(env, r.q.codes));
  o.Set("scales", MakeTyped<float, Napi::Float32Array>(env, r.q.scales));
  o.Set("dequant", ToF32(env, r.q.dequant));
  o.Set("bits", r.q.bits);
  o.Set("groupSize", r.q.group_size);
  o.Set("rank", r.rank);
  o.Set("L", ToF32(env, r.L));
  o.Set("R", ToF32(env, r.R));
  Napi::Object d = Napi::Object::New(env);
  d.Set("rank", r.rank);
  d.Set("curve", ToArray(env, r.curve));
  d.Set("storage_overhead", r.storage_overhead);
  d.Set("rel_error_before", r.rel_error_before);
  d.Set("rel_error_after", r.rel_error_after);
  o.Set("details", d);
  o.Set("blcBest", ToArray(env, r.blc_best));
  return o;
}

Napi::Value SvdJs(const Napi::CallbackInfo& info) {
  int rows = Dim(info, 1), cols = Dim(info, 2);
  auto a = ReadMat<double, Napi::Float64Array>(info, rows, cols, "a");
  struct Out { std::vector<double> u, s, vt; };
  auto out = std::make_shared<Out>();
  return Queue(info.Env(), [a, rows, cols, out](const JobControl& ctl) {
    return Svd(a->data(), rows, cols, ctl, &out->u, &out->s, &out->vt, nullptr);
  }, [out](Napi::Env env) -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    o.Set("u", MakeTyped<double, Napi::Float64Array>(env, out->u));
    o.Set("s", MakeTyped<double, Napi::Float64Array>(env, out->s));
    o.Set("vt", MakeTyped<double, Napi::Float64Array>(env, out->vt));
    return o;
  }, info[3]);
}

Napi::Value SketchJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int rows = Dim(info, 1), cols = Dim(info, 2);
  auto a = ReadMat<double, Napi::Float64Array>(info, rows, cols, "a");
  Napi::Object o = info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(env);
  int rank = (int)OptNum(o, "rank", 1), iters = (int)OptNum(o, "iters", 2);
  uint64_t seed = (uint64_t)OptNum(o, "seed", 0);
  struct Out { std::vector<double> L, R; };
  auto out = std::make_shared<Out>();
  return Queue(env, [a, rows, cols, rank, iters, seed, out](const JobControl& ctl) {
    return R1Sketch(a->data(), rows, cols, rank, iters, seed, ctl, &out->L, &out->R);
  }, [out](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("L", MakeTyped<double, Napi::Float64Array>(env, out->L));
    r.Set("R", MakeTyped<double, Napi::Float64Array>(env, out->R));
    return r;
  }, info[4]);
}

Napi::Value FlrqJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int rows = Dim(info, 1), cols = Dim(info, 2);
  auto w = ReadMat<float, Napi::Float32Array>(info, rows, cols, "w");
  auto H = OptHessian(info, 3, cols);
  auto act = OptActMean(info, 4, cols);
  Napi::Object o = info[5].IsObject() ? info[5].As<Napi::Object>() : Napi::Object::New(env);
  FlrqOptions opt;
  opt.bits = (int)OptNum(o, "bits", opt.bits);
  opt.group_size = (int)OptNum(o, "groupSize", opt.group_size);
  opt.budget_x = OptNum(o, "budget", opt.budget_x);
  opt.slope_t = OptNum(o, "slope", opt.slope_t);
  opt.max_rank = (int)OptNum(o, "maxRank", opt.max_rank);
  opt.sketch_iters = (int)OptNum(o, "sketchIters", opt.sketch_iters);
  opt.seed = (uint64_t)OptNum(o, "seed", 0);
  opt.blc_epochs = (int)OptNum(o, "blcEpochs", opt.blc_epochs);
  opt.act_scaling = OptBool(o, "actScaling", true);
  opt.act_exponent = OptNum(o, "actExponent", opt.act_exponent);
  opt.clip_search = OptBool(o, "clipSearch", true);
  opt.quantizer = ReadQuantizer(env, o);
  auto out = std::make_shared<LowRankResult>();
  return Queue(env, [w, H, act, rows, cols, opt, out](const JobControl& ctl) {
    return Flrq(w->data(), rows, cols, H ? H->data() : nullptr, act ? act->data() : nullptr, opt, ctl, out.get());
  }, [out](Napi::Env env) -> Napi::Value { return LowRankToJs(env, *out); }, info[6]);
}

LowRankBaselineOptions BaselineOpts(Napi::Env env, const Napi::Value& v) {
  Napi::Object o = v.IsObject() ? v.As<Napi::Object>() : Napi::Object::New(env);
  LowRankBaselineOptions opt;
  opt.bits = (int)OptNum(o, "bits", opt.bits);
  opt.group_size = (int)OptNum(o, "groupSize", opt.group_size);
  opt.rank = (int)OptNum(o, "rank", opt.rank);
  opt.factor_bits = (int)OptNum(o, "factorBits", opt.factor_bits);
  opt.clip_search = OptBool(o, "clipSearch", false);
  opt.quantizer = ReadQuantizer(env, o);
  return opt;
}

Napi::Value LorcJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int rows = Dim(info, 1), cols = Dim(info, 2);
  auto w = ReadMat<float, Napi::Float32Array>(info, rows, cols, "w");
  auto H = OptHessian(info, 3, cols);
  LowRankBaselineOptions opt = BaselineOpts(env, info[4]);
  auto out = std::make_shared<LowRankResult>();
  return Queue(env, [w, H, rows, cols, opt, out](const JobControl& ctl) {
    return Lorc(w->data(), rows, cols, H ? H->data() : nullptr, opt, ctl, out.get());
  }, [out](Napi::Env env) -> Napi::Value { return LowRankToJs(env, *out); }, info[5]);
}

Napi::Value LqerJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int rows = Dim(info, 1), cols = Dim(info, 2);
  auto w = ReadMat<float, Napi::Float32Array>(info, rows, cols, "w");
  auto H = OptHessian(info, 3, cols);
  auto act = OptActMean(info, 4, cols);
  LowRankBaselineOptions opt = BaselineOpts(env, info[5]);
  auto out = std::make_shared<LowRankResult>();
  return Queue(env, [w, H, act, rows, cols, opt, out](const JobControl& ctl) {
    return Lqer(w->data(), rows, cols, H ? H->data() : nullptr, act ? act->data() : nullptr, opt, ctl, out.get());
  }, [out](Napi::Env env) -> Napi::Value { return LowRankToJs(env, *out); }, info[6]);
}

// quantizeSymAbsmax(w: Float64Array, rows, cols, bits, groupSize, clipSearch) → {codes, scales, dequant}
Napi::Value SymAbsmaxJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int rows = Dim(info, 1), cols = Dim(info, 2), bits = Dim(info, 3), g = Dim(info, 4);
  if (bits < 2 || bits > 8) throw Napi::RangeError::New(env, "bits must be in 2..8");
  auto w = ReadMat<double, Napi::Float64Array>(info, rows, cols, "w");
  SymQuant q;
  QuantizeSymAbsmax(w->data(), rows, cols, bits, g, info[5].ToBoolean().Value(), 1, &q);
  Napi::Object o = Napi::Object::New(env);
  o.Set("codes", MakeTyped<uint8_t, Napi::Uint8Array>(env, q.codes));
  o.Set("scales", MakeTyped<float, Napi::Float32Array>(env, q.scales));
  o.Set("dequant", MakeTyped<double, Napi::Float64Array>(env, q.dequant));
  return o;
}

}  // namespace

/** Registers the low-rank exports on the addon. */
void RegisterLowRank(Napi::Env env, Napi::Object exports) {
  exports.Set("svd", Napi::Function::New(env, SvdJs));
  exports.Set("r1Sketch", Napi::Function::New(env, SketchJs));
  exports.Set("flrq", Napi::Function::New(env, FlrqJs));
  exports.Set("lorc", Napi::Function::New(env, LorcJs));
  exports.Set("lqer", Napi::Function::New(env, LqerJs));
  exports.Set("quantizeSymAbsmax", Napi::Function::New(env, SymAbsmaxJs));
}

}  // namespace lowbit
