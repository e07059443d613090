// N-API binding for the binarization kernels: billm, pbllm, dualBinarize (async, cancellable) and
// the synchronous test hooks binarizeRow / billmSearchBlock. Arguments are validated in
// native/ts/lowbit.ts; this file re-checks sizes cheaply and copies inputs on the JS thread.
#include <napi.h>

#include "lowbit/binarize.h"
#include "lowbit/binarize_billm_search.h"
#include "lowbit/lowrank_napi_worker.h"

namespace lowbit {

namespace {

struct Mat {
  std::vector<float> w;
  int rows = 0, cols = 0;
};

Mat ReadWeight(const Napi::CallbackInfo& info) {
  Mat m;
  m.w = CopyTyped<float, Napi::Float32Array>(info[0], "w");
  m.rows = info[1].As<Napi::Number>().Int32Value();
  m.cols = info[2].As<Napi::Number>().Int32Value();
  if (m.rows <= 0 || m.cols <= 0 || m.w.size() != (size_t)m.rows * m.cols)
    throw Napi::RangeError::New(info.Env(), "w has " + std::to_string(m.w.size()) + " values, expected rows×cols = " + std::to_string((long)m.rows * m.cols));
  return m;
}

std::vector<double> ReadHessian(const Napi::CallbackInfo& info, size_t idx, int cols) {
  auto h = CopyTyped<double, Napi::Float64Array>(info[idx], "H");
  if (h.size() != (size_t)cols * cols) throw Napi::RangeError::New(info.Env(), "H must be cols×cols");
  return h;
}

Napi::Value BillmJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = std::make_shared<Mat>(ReadWeight(info));
  auto H = std::make_shared<std::vector<double>>(ReadHessian(info, 3, m->cols));
  Napi::Object o = info[4].IsObject() ? info[4].As<Napi::Object>() : Napi::Object::New(env);
  BillmOptions opt;
  opt.block = (int)OptNum(o, "blockSize", opt.block);
  opt.percdamp = OptNum(o, "percdamp", opt.percdamp);
  opt.salient_up_lim = (int)OptNum(o, "salientUpLim", opt.salient_up_lim);
  opt.exact = OptBool(o, "exact", false);
  opt.fp16_scales = OptBool(o, "fp16Scales", true);
  BinlrControlArgs c = ReadControl(info[5]);
  struct Out { std::vector<float> q; BillmStored s; BillmDetails d; };
  auto out = std::make_shared<Out>();
  auto run = [m, H, opt, out](const JobControl& ctl) {
    return lowbit::Billm(m->w.data(), m->rows, m->cols, H->data(), opt, ctl, &out->q, &out->s, &out->d);
  };
  auto build = [out](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("dequant", MakeTyped<float, Napi::Float32Array>(env, out->q));
    Napi::Object s = Napi::Object::New(env);
    s.Set("sign1", MakeTyped<uint8_t, Napi::Uint8Array>(env, out->s.sign1));
    s.Set("sign2", MakeTyped<uint8_t, Napi::Uint8Array>(env, out->s.sign2));
    s.Set("group", MakeTyped<uint8_t, Napi::Uint8Array>(env, out->s.group));
    s.Set("salientCols", MakeTyped<uint8_t, Napi::Uint8Array>(env, out->s.salient_col));
    s.Set("scales", MakeTyped<float, Napi::Float32Array>(env, out->s.scales));
    r.Set("stored", s);
    Napi::Object d = Napi::Object::New(env);
    Napi::Object sal = Napi::Object::New(env);
    sal.Set("rows", out->d.sal_rows);
    sal.Set("cols", out->d.sal_cols);
    sal.Set("values", ToArray(env, out->d.saliency));
    d.Set("saliency", sal);
    d.Set("column_profile", ToArray(env, out->d.column_profile));
    std::vector<double> cols(out->d.salient_columns.begin(), out->d.salient_columns.end());
    d.Set("salient_columns", ToArray(env, cols));
    d.Set("split_points", ToArray(env, out->d.split_points));
    d.Set("bits_claimed", out->d.bits_claimed);
    d.Set("bits_stored", out->d.bits_stored);
    r.Set("details", d);
    r.Set("loss", out->d.loss);
    return r;
  };
  auto* wk = new BinlrWorker(env, run, build, c.cancel, c.threads, c.progress);
  Napi::Promise p = wk->Promise();
  wk->Queue();
  return p;
}

Napi::Value PbllmJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = std::make_shared<Mat>(ReadWeight(info));
  auto H = std::make_shared<std::vector<double>>(ReadHessian(info, 3, m->cols));
  Napi::Object o = info[4].IsObject() ? info[4].As<Napi::Object>() : Napi::Object::New(env);
  PbllmOptions opt;
  opt.low_frac = OptNum(o, "lowFrac", opt.low_frac);
  opt.group_size = (int)OptNum(o, "groupSize", opt.group_size);
  opt.block = (int)OptNum(o, "blockSize", opt.block);
  opt.percdamp = OptNum(o, "percdamp", opt.percdamp);
  opt.hessian_saliency = OptBool(o, "hessianSaliency", true);
  BinlrControlArgs c = ReadControl(info[5]);
  auto out = std::make_shared<PbllmResult>();
  auto run = [m, H, opt, out](const JobControl& ctl) {
    return lowbit::Pbllm(m->w.data(), m->rows, m->cols, H->data(), opt, ctl, out.get());
  };
  auto build = [out](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("dequant", MakeTyped<float, Napi::Float32Array>(env, out->dequant));
    r.Set("mask", MakeTyped<uint8_t, Napi::Uint8Array>(env, out->mask));
    r.Set("binParams", MakeTyped<float, Napi::Float32Array>(env, out->bin_params));
    r.Set("q8Params", MakeTyped<float, Napi::Float32Array>(env, out->q8_params));
    r.Set("bitsClaimed", out->bits_claimed);
    r.Set("bitsStored", out->bits_stored);
    r.Set("loss", out->loss);
    return r;
  };
  auto* wk = new BinlrWorker(env, run, build, c.cancel, c.threads, c.progress);
  Napi::Promise p = wk->Promise();
  wk->Queue();
  return p;
}

Napi::Value DualBin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = std::make_shared<Mat>(ReadWeight(info));
  Napi::Object o = info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(env);
  DualBinOptions opt;
  opt.group_size = (int)OptNum(o, "groupSize", opt.group_size);
  opt.iters = (int)OptNum(o, "iters", opt.iters);
  BinlrControlArgs c = ReadControl(info[4]);
  auto out = std::make_shared<DualBinResult>();
  auto run = [m, opt, out](const JobControl& ctl) {
    return lowbit::DualBinarize(m->w.data(), m->rows, m->cols, opt, ctl, out.get());
  };
  auto build = [out](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("dequant", MakeTyped<float, Napi::Float32Array>(env, out->dequant));
    r.Set("b1", MakeTyped<uint8_t, Napi::Uint8Array>(env, out->b1));
    r.Set("b2", MakeTyped<uint8_t, Napi::Uint8Array>(env, out->b2));
    r.Set("alphas", MakeTyped<float, Napi::Float32Array>(env, out->alphas));
    r.Set("errorCurve", ToArray(env, out->error_curve));
    r.Set("bitsStored", out->bits_stored);
    return r;
  };
  auto* wk = new BinlrWorker(env, run, build, c.cancel, c.threads, c.progress);
  Napi::Promise p = wk->Promise();
  wk->Queue();
  return p;
}

// binarizeRow(w: Float64Array, mask: Uint8Array | null, order, fp16) → {values, alphas, mus}
Napi::Value BinarizeRow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto w = CopyTyped<double, Napi::Float64Array>(info[0], "w");
  std::vector<uint8_t> mask;
  if (info[1].IsTypedArray()) mask = CopyTyped<uint8_t, Napi::Uint8Array>(info[1], "mask");
  if (!mask.empty() && mask.size() != w.size()) throw Napi::RangeError::New(env, "mask length must equal w length");
  int order = info[2].As<Napi::Number>().Int32Value();
  if (order < 1 || order > 8) throw Napi::RangeError::New(env, "order must be in 1..8");
  bool fp16 = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  std::vector<double> out(w.size(), 0.0);
  std::vector<BinParams> p(order);
  BinarizeResidual(w.data(), mask.empty() ? nullptr : mask.data(), (int)w.size(), order, fp16, out.data(), p.data());
  Napi::Object r = Napi::Object::New(env);
  r.Set("values", MakeTyped<double, Napi::Float64Array>(env, out));
  std::vector<double> a, mu;
  for (auto& x : p) { a.push_back(x.alpha); mu.push_back(x.mu); }
  r.Set("alphas", ToArray(env, a));
  r.Set("mus", ToArray(env, mu));
  return r;
}

// billmSearchBlock(S: Float64Array, rows, count, upLim) → {salient, k, split, splitErrors, bestSplit}
Napi::Value SearchBlockJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto S = CopyTyped<double, Napi::Float64Array>(info[0], "S");
  int rows = info[1].As<Napi::Number>().Int32Value(), count = info[2].As<Napi::Number>().Int32Value();
  int up = info[3].As<Napi::Number>().Int32Value();
  if (rows <= 0 || count <= 0 || S.size() != (size_t)rows * count) throw Napi::RangeError::New(env, "S must be rows×count");
  BlockSearch b = SearchBlock(S.data(), rows, count, up, 1);
  Napi::Object r = Napi::Object::New(env);
  r.Set("salient", MakeTyped<uint8_t, Napi::Uint8Array>(env, b.salient));
  r.Set("k", b.k);
  r.Set("split", b.split);
  r.Set("splitErrors", ToArray(env, b.split_errors));
  r.Set("bestSplit", b.best_split);
  return r;
}

// hessianInverseFactor(H: Float64Array, n, percdamp) → {U: Float64Array, dead: Uint8Array}
Napi::Value FactorJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto H = CopyTyped<double, Napi::Float64Array>(info[0], "H");
  int n = info[1].As<Napi::Number>().Int32Value();
  if (n <= 0 || H.size() != (size_t)n * n) throw Napi::RangeError::New(env, "H must be n×n");
  std::vector<double> U;
  std::vector<uint8_t> dead;
  Status st = HessianInverseFactor(H.data(), n, info[2].As<Napi::Number>().DoubleValue(), &U, &dead);
  if (!st.ok()) throw Napi::Error::New(env, st.message);
  Napi::Object r = Napi::Object::New(env);
  r.Set("U", MakeTyped<double, Napi::Float64Array>(env, U));
  r.Set("dead", MakeTyped<uint8_t, Napi::Uint8Array>(env, dead));
  return r;
}

Napi::Value CreateToken(const Napi::CallbackInfo& info) {
  auto* flag = new CancelFlag(std::make_shared<std::atomic<bool>>(false));
  return Napi::External<CancelFlag>::New(info.Env(), flag, [](Napi::Env, CancelFlag* f) { delete f; });
}

Napi::Value CancelToken(const Napi::CallbackInfo& info) {
  if (info[0].IsExternal()) (*info[0].As<Napi::External<CancelFlag>>().Data())->store(true);
  return info.Env().Undefined();
}

}  // namespace

/** Registers the binarization exports on the addon. */
void RegisterBinarize(Napi::Env env, Napi::Object exports) {
  exports.Set("billm", Napi::Function::New(env, BillmJs));
  exports.Set("pbllm", Napi::Function::New(env, PbllmJs));
  exports.Set("dualBinarize", Napi::Function::New(env, DualBin));
  exports.Set("binarizeRow", Napi::Function::New(env, BinarizeRow));
  exports.Set("billmSearchBlock", Napi::Function::New(env, SearchBlockJs));
  exports.Set("hessianInverseFactor", Napi::Function::New(env, FactorJs));
  exports.Set("binlrCreateToken", Napi::Function::New(env, CreateToken));
  exports.Set("binlrCancel", Napi::Function::New(env, CancelToken));
}

}  // namespace lowbit
