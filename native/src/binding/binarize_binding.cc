// N-API binding for the binarization kernels: billm, pbllm, dualBinarize (async, see
// kernel_worker.h) and the synchronous test hooks binarizeRow / billmSearchBlock /
// hessianInverseFactor. Arguments are validated in native/ts/binaryLowRank.ts and re-checked here.
#include <napi.h>

#include <memory>

#include "kernel_worker.h"
#include "lowbit/binarize.h"
#include "lowbit/binarize_billm_search.h"

namespace lowbit::binding {
namespace {

// billm(w: Float32Array, rows, cols, H: Float64Array, opts, ctl) → Promise<BillmResult>
Napi::Value BillmJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* H = in.Pin<double>(info[3], size_t(w.cols) * w.cols, "H");
  Napi::Object o = OptionsArg(info, 4);
  BillmOptions opt;
  opt.block = IntOption(o, "blockSize", opt.block);
  opt.percdamp = NumberOption(o, "percdamp", opt.percdamp);
  opt.salient_up_lim = IntOption(o, "salientUpLim", opt.salient_up_lim);
  opt.exact = BoolOption(o, "exact", false);
  opt.fp16_scales = BoolOption(o, "fp16Scales", true);
  opt.hessian_saliency = BoolOption(o, "hessianSaliency", true);
  struct Out { std::vector<float> q; BillmStored s; BillmDetails d; };
  auto out = std::make_shared<Out>();
  return KernelWorker::Start(info.Env(), info[5], std::move(in),
      [=](const JobControl& ctl) { return Billm(w.data, w.rows, w.cols, H, opt, ctl, &out->q, &out->s, &out->d); },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("dequant", AdoptTyped(env, std::move(out->q)));
        Napi::Object s = Napi::Object::New(env);
        s.Set("sign1", AdoptTyped(env, std::move(out->s.sign1)));
        s.Set("sign2", AdoptTyped(env, std::move(out->s.sign2)));
        s.Set("group", AdoptTyped(env, std::move(out->s.group)));
        s.Set("salientCols", AdoptTyped(env, std::move(out->s.salient_col)));
        s.Set("scales", AdoptTyped(env, std::move(out->s.scales)));
        r.Set("stored", s);
        const BillmDetails& det = out->d;
        Napi::Object d = Napi::Object::New(env);
        Napi::Object sal = Napi::Object::New(env);
        sal.Set("rows", det.sal_rows);
        sal.Set("cols", det.sal_cols);
        sal.Set("values", ToNumberArray(env, det.saliency));
        d.Set("saliency", sal);
        d.Set("column_profile", ToNumberArray(env, det.column_profile));
        d.Set("salient_columns", ToNumberArray(env, det.salient_columns));
        d.Set("split_points", ToNumberArray(env, det.split_points));
        d.Set("bits_claimed", det.bits_claimed);
        d.Set("bits_stored", det.bits_stored);
        r.Set("details", d);
        r.Set("loss", det.loss);
        return r;
      });
}

// pbllm(w.data, w.rows, w.cols, H, opts, ctl) → Promise<PbllmResult>
Napi::Value PbllmJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* H = in.Pin<double>(info[3], size_t(w.cols) * w.cols, "H");
  Napi::Object o = OptionsArg(info, 4);
  PbllmOptions opt;
  opt.low_frac = NumberOption(o, "lowFrac", opt.low_frac);
  opt.group_size = IntOption(o, "groupSize", opt.group_size);
  opt.block = IntOption(o, "blockSize", opt.block);
  opt.percdamp = NumberOption(o, "percdamp", opt.percdamp);
  opt.hessian_saliency = BoolOption(o, "hessianSaliency", true);
  opt.high_bits = IntOption(o, "highBits", opt.high_bits);
  auto out = std::make_shared<PbllmResult>();
  return KernelWorker::Start(info.Env(), info[5], std::move(in),
      [=](const JobControl& ctl) { return Pbllm(w.data, w.rows, w.cols, H, opt, ctl, out.get()); },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("dequant", AdoptTyped(env, std::move(out->dequant)));
        r.Set("mask", AdoptTyped(env, std::move(out->mask)));
        r.Set("binParams", AdoptTyped(env, std::move(out->bin_params)));
        r.Set("q8Params", AdoptTyped(env, std::move(out->q8_params)));
        r.Set("bitsClaimed", out->bits_claimed);
        r.Set("bitsStored", out->bits_stored);
        r.Set("loss", out->loss);
        return r;
      });
}

// dualBinarize(w.data, w.rows, w.cols, opts, ctl) → Promise<DualBinResult>
Napi::Value DualBinarizeJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  Napi::Object o = OptionsArg(info, 3);
  DualBinOptions opt;
  opt.group_size = IntOption(o, "groupSize", opt.group_size);
  opt.iters = IntOption(o, "iters", opt.iters);
  {
    const int g = opt.group_size <= 0 || opt.group_size > w.cols ? w.cols : opt.group_size;
    const size_t mn = size_t(w.rows) * w.cols, ng = size_t((w.cols + g - 1) / g);
    opt.init_b1 = in.PinOptional<uint8_t>(o.Get("initB1"), mn, "initB1");
    opt.init_b2 = in.PinOptional<uint8_t>(o.Get("initB2"), mn, "initB2");
    opt.init_alphas = in.PinOptional<float>(o.Get("initAlphas"), size_t(w.rows) * ng * 2, "initAlphas");
    if ((opt.init_b1 == nullptr) != (opt.init_alphas == nullptr) || (opt.init_b2 == nullptr) != (opt.init_alphas == nullptr))
      ThrowArg(info.Env(), "dualBinarize: initB1, initB2 and initAlphas go together");
  }
  auto out = std::make_shared<DualBinResult>();
  return KernelWorker::Start(info.Env(), info[4], std::move(in),
      [=](const JobControl& ctl) { return DualBinarize(w.data, w.rows, w.cols, opt, ctl, out.get()); },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("dequant", AdoptTyped(env, std::move(out->dequant)));
        r.Set("b1", AdoptTyped(env, std::move(out->b1)));
        r.Set("b2", AdoptTyped(env, std::move(out->b2)));
        r.Set("alphas", AdoptTyped(env, std::move(out->alphas)));
        r.Set("errorCurve", ToNumberArray(env, out->error_curve));
        r.Set("bitsStored", out->bits_stored);
        return r;
      });
}

// binarizeRow(w: Float64Array, mask: Uint8Array | null, order, fp16) → {values, alphas, mus}
Napi::Value BinarizeRowJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float64Array w = TypedArg<double>(info[0], kAnyLength, "w");
  const size_t n = w.ElementLength();
  const uint8_t* mask = nullptr;  // null or an empty mask: every entry
  if (info[1].IsTypedArray()) {
    Napi::Uint8Array m = TypedArg<uint8_t>(info[1], kAnyLength, "mask");
    if (m.ElementLength() != 0) mask = TypedArg<uint8_t>(m, n, "mask").Data();
  }
  const int order = DimArg(info, 2, "order");
  if (order > 8) ThrowArg(env, "order must be in 1..8");
  const bool fp16 = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  std::vector<double> values(n, 0.0);
  std::vector<BinParams> p(order);
  BinarizeResidual(w.Data(), mask, static_cast<int>(n), order, fp16, values.data(), p.data());
  std::vector<double> alphas, mus;
  for (const BinParams& x : p) {
    alphas.push_back(x.alpha);
    mus.push_back(x.mu);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("values", AdoptTyped(env, std::move(values)));
  r.Set("alphas", ToNumberArray(env, alphas));
  r.Set("mus", ToNumberArray(env, mus));
  return r;
}

// billmSearchBlock(S: Float64Array rows×count, rows, count, upLim) → {salient, k, split, splitErrors, bestSplit}
Napi::Value SearchBlockJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int rows = DimArg(info, 1, "rows"), count = DimArg(info, 2, "count");
  Napi::Float64Array S = TypedArg<double>(info[0], size_t(rows) * count, "S");
  BlockSearch b = SearchBlock(S.Data(), rows, count, info[3].As<Napi::Number>().Int32Value(), 1);
  Napi::Object r = Napi::Object::New(env);
  r.Set("salient", AdoptTyped(env, std::move(b.salient)));
  r.Set("k", b.k);
  r.Set("split", b.split);
  r.Set("splitErrors", ToNumberArray(env, b.split_errors));
  r.Set("bestSplit", b.best_split);
  return r;
}

// hessianInverseFactor(H: Float64Array n×n, n, percdamp) → {U: Float64Array, dead: Uint8Array}
Napi::Value FactorJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int n = DimArg(info, 1, "n");
  Napi::Float64Array H = TypedArg<double>(info[0], size_t(n) * n, "H");
  std::vector<double> U;
  std::vector<uint8_t> dead;
  Status st = HessianInverseFactor(H.Data(), n, info[2].As<Napi::Number>().DoubleValue(), &U, &dead);
  if (!st.ok()) throw StatusError(env, st);
  Napi::Object r = Napi::Object::New(env);
  r.Set("U", AdoptTyped(env, std::move(U)));
  r.Set("dead", AdoptTyped(env, std::move(dead)));
  return r;
}

}  // namespace

/** Registers the binarization exports on the addon. */
void RegisterBinarize(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {
      {"billm", BillmJs},
      {"pbllm", PbllmJs},
      {"dualBinarize", DualBinarizeJs},
      {"binarizeRow", BinarizeRowJs},
      {"billmSearchBlock", SearchBlockJs},
      {"hessianInverseFactor", FactorJs},
  });
}

}  // namespace lowbit::binding
