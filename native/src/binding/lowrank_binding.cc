// N-API binding for the low-rank kernels: svd, r1Sketch, flrq, lorc, lqer (async, see
// kernel_worker.h) and the synchronous quantizeSymAbsmax hook used by tests.
#include <napi.h>

#include <memory>
#include <string>

#include "kernel_worker.h"
#include "lowbit/lowrank.h"
#include "lowbit/sketch.h"
#include "lowbit/svd.h"

namespace lowbit::binding {
namespace {

/** `quantizer`: "rtn" (default), "gptq" or "gptq_asym". */
ResidualQuantizer QuantizerOption(const Napi::Object& o) {
  Napi::Value v = o.Get("quantizer");
  if (v.IsUndefined()) return ResidualQuantizer::kRtn;
  const std::string q = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  if (q == "rtn") return ResidualQuantizer::kRtn;
  if (q == "gptq") return ResidualQuantizer::kGptq;
  if (q == "gptq_asym") return ResidualQuantizer::kGptqAsym;
  ThrowArg(o.Env(), "quantizer must be 'rtn', 'gptq' or 'gptq_asym'");
}

Napi::Object LowRankToJs(Napi::Env env, LowRankResult&& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("codes", AdoptTyped(env, std::move(r.q.codes)));
  o.Set("scales", AdoptTyped(env, std::move(r.q.scales)));
  if (!r.q.zeros.empty()) o.Set("zeros", AdoptTyped(env, std::move(r.q.zeros)));
  o.Set("dequant", ToFloat32(env, r.q.dequant));
  o.Set("bits", r.q.bits);
  o.Set("groupSize", r.q.group_size);
  o.Set("rank", r.rank);
  o.Set("L", ToFloat32(env, r.L));
  o.Set("R", ToFloat32(env, r.R));
  Napi::Object d = Napi::Object::New(env);
  d.Set("rank", r.rank);
  d.Set("curve", ToNumberArray(env, r.curve));
  d.Set("storage_overhead", r.storage_overhead);
  d.Set("rel_error_before", r.rel_error_before);
  d.Set("rel_error_after", r.rel_error_after);
  o.Set("details", d);
  o.Set("blcBest", ToNumberArray(env, r.blc_best));
  return o;
}

/** Starts a low-rank kernel that fills a LowRankResult. */
Napi::Value StartLowRank(const Napi::CallbackInfo& info, const Napi::Value& ctl, PinnedInputs in,
                         std::function<Status(const JobControl&, LowRankResult*)> run) {
  auto out = std::make_shared<LowRankResult>();
  return KernelWorker::Start(info.Env(), ctl, std::move(in),
      [run = std::move(run), out](const JobControl& c) { return run(c, out.get()); },
      [out](Napi::Env env) -> Napi::Value { return LowRankToJs(env, std::move(*out)); });
}

// svd(a: Float64Array rows×cols, rows, cols, ctl) → Promise<{u, s, vt}>
Napi::Value SvdJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<double> a = in.PinMatrix<double>(info, "a");
  struct Out { std::vector<double> u, s, vt; };
  auto out = std::make_shared<Out>();
  return KernelWorker::Start(info.Env(), info[3], std::move(in),
      [=](const JobControl& ctl) { return Svd(a.data, a.rows, a.cols, ctl, &out->u, &out->s, &out->vt, nullptr); },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("u", AdoptTyped(env, std::move(out->u)));
        o.Set("s", AdoptTyped(env, std::move(out->s)));
        o.Set("vt", AdoptTyped(env, std::move(out->vt)));
        return o;
      });
}

// r1Sketch(a: Float64Array a.rows×a.cols, a.rows, a.cols, {rank, iters, seed}, ctl) → Promise<{L, R}>
Napi::Value SketchJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<double> a = in.PinMatrix<double>(info, "a");
  Napi::Object o = OptionsArg(info, 3);
  const int rank = IntOption(o, "rank", 1), iters = IntOption(o, "iters", 2);
  const uint64_t seed = static_cast<uint64_t>(NumberOption(o, "seed", 0));
  struct Out { std::vector<double> L, R; };
  auto out = std::make_shared<Out>();
  return KernelWorker::Start(info.Env(), info[4], std::move(in),
      [=](const JobControl& ctl) { return R1Sketch(a.data, a.rows, a.cols, rank, iters, seed, ctl, &out->L, &out->R); },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("L", AdoptTyped(env, std::move(out->L)));
        r.Set("R", AdoptTyped(env, std::move(out->R)));
        return r;
      });
}

// flrq(w: Float32Array, a.rows, a.cols, H: Float64Array | null, actMean: Float32Array | null, opts, ctl)
Napi::Value FlrqJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* H = in.PinOptional<double>(info[3], size_t(w.cols) * w.cols, "H");
  const float* act = in.PinOptional<float>(info[4], w.cols, "actMean");
  Napi::Object o = OptionsArg(info, 5);
  FlrqOptions opt;
  opt.bits = IntOption(o, "bits", opt.bits);
  opt.group_size = IntOption(o, "groupSize", opt.group_size);
  opt.budget_x = NumberOption(o, "budget", opt.budget_x);
  opt.slope_t = NumberOption(o, "slope", opt.slope_t);
  opt.max_rank = IntOption(o, "maxRank", opt.max_rank);
  opt.sketch_iters = IntOption(o, "sketchIters", opt.sketch_iters);
  opt.seed = static_cast<uint64_t>(NumberOption(o, "seed", 0));
  opt.blc_epochs = IntOption(o, "blcEpochs", opt.blc_epochs);
  opt.act_scaling = BoolOption(o, "actScaling", true);
  opt.act_exponent = NumberOption(o, "actExponent", opt.act_exponent);
  opt.clip_search = BoolOption(o, "clipSearch", true);
  opt.quantizer = QuantizerOption(o);
  {
    Napi::Value rule = o.Get("rankRule");
    const std::string r = rule.IsString() ? rule.As<Napi::String>().Utf8Value() : std::string("spec");
    if (r == "authors") opt.rank_rule = FlrqRankRule::kAuthors;
    else if (r != "spec" || !(rule.IsUndefined() || rule.IsString())) ThrowArg(o.Env(), "rankRule must be 'spec' or 'authors'");
  }
  return StartLowRank(info, info[6], std::move(in), [=](const JobControl& ctl, LowRankResult* out) {
    return Flrq(w.data, w.rows, w.cols, H, act, opt, ctl, out);
  });
}

LowRankBaselineOptions BaselineOptions(const Napi::Object& o) {
  LowRankBaselineOptions opt;
  opt.bits = IntOption(o, "bits", opt.bits);
  opt.group_size = IntOption(o, "groupSize", opt.group_size);
  opt.rank = IntOption(o, "rank", opt.rank);
  opt.factor_bits = IntOption(o, "factorBits", opt.factor_bits);
  opt.clip_search = BoolOption(o, "clipSearch", false);
  opt.quantizer = QuantizerOption(o);
  return opt;
}

// lorc(w.data, w.rows, w.cols, H | null, opts, ctl) → Promise<LowRankResult>
Napi::Value LorcJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* H = in.PinOptional<double>(info[3], size_t(w.cols) * w.cols, "H");
  const LowRankBaselineOptions opt = BaselineOptions(OptionsArg(info, 4));
  return StartLowRank(info, info[5], std::move(in), [=](const JobControl& ctl, LowRankResult* out) {
    return Lorc(w.data, w.rows, w.cols, H, opt, ctl, out);
  });
}

// lqer(w.data, w.rows, w.cols, H | null, actMean | null, opts, ctl) → Promise<LowRankResult>
Napi::Value LqerJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* H = in.PinOptional<double>(info[3], size_t(w.cols) * w.cols, "H");
  const float* act = in.PinOptional<float>(info[4], w.cols, "actMean");
  const LowRankBaselineOptions opt = BaselineOptions(OptionsArg(info, 5));
  return StartLowRank(info, info[6], std::move(in), [=](const JobControl& ctl, LowRankResult* out) {
    return Lqer(w.data, w.rows, w.cols, H, act, opt, ctl, out);
  });
}

// quantizeSymAbsmax(w: Float64Array, w.rows, w.cols, bits, groupSize, clipSearch) → {codes, scales, dequant}
Napi::Value SymAbsmaxJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int rows = DimArg(info, 1, "rows"), cols = DimArg(info, 2, "cols"), bits = DimArg(info, 3, "bits");
  const int group = info[4].As<Napi::Number>().Int32Value();
  if (bits < 2 || bits > 8) ThrowArg(env, "bits must be in 2..8");
  Napi::Float64Array w = TypedArg<double>(info[0], size_t(rows) * cols, "w");
  SymQuant q;
  QuantizeSymAbsmax(w.Data(), rows, cols, bits, group, info[5].ToBoolean().Value(), 1, &q);
  Napi::Object o = Napi::Object::New(env);
  o.Set("codes", AdoptTyped(env, std::move(q.codes)));
  o.Set("scales", AdoptTyped(env, std::move(q.scales)));
  o.Set("dequant", AdoptTyped(env, std::move(q.dequant)));
  return o;
}

}  // namespace

/** Registers the low-rank exports on the addon. */
void RegisterLowRank(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {
      {"svd", SvdJs},
      {"r1Sketch", SketchJs},
      {"flrq", FlrqJs},
      {"lorc", LorcJs},
      {"lqer", LqerJs},
      {"quantizeSymAbsmax", SymAbsmaxJs},
  });
}

}  // namespace lowbit::binding
