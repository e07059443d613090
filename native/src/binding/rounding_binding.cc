// N-API binding of the rounding-optimization kernels: HQQ (data-free zero-point optimization) and
// layer-wise AdaRound (async, see kernel_worker.h), plus AdaRound's loss/gradient (synchronous; tests).
#include <napi.h>

#include <memory>

#include "kernel_worker.h"
#include "lowbit/adaround.h"
#include "lowbit/hqq.h"

namespace lowbit::binding {
namespace {

// hqq(w, rows, cols, {bits, groupSize, iterations, lpNorm, beta, kappa, integerZero}, ctl)
//   → Promise<QuantizedWeight & {zeroPoints: Float32Array, objective: number[], iterations, initial, final}>
Napi::Value HqqJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  Napi::Object o = OptionsArg(info, 3);
  HqqSpec spec;
  spec.bits = IntOption(o, "bits", 4);
  spec.group_size = IntOption(o, "groupSize", 64);
  spec.iterations = IntOption(o, "iterations", 20);
  spec.lp_norm = NumberOption(o, "lpNorm", 0.7);
  spec.beta = NumberOption(o, "beta", 10.0);
  spec.kappa = NumberOption(o, "kappa", 1.01);
  spec.integer_zero = BoolOption(o, "integerZero", true);
  auto out = std::make_shared<HqqWeight>();
  auto stats = std::make_shared<HqqStats>();
  return KernelWorker::Start(info.Env(), info[4], std::move(in),
      [=](const JobControl& ctl) { return QuantizeHqq(w.data, w.rows, w.cols, spec, ctl, out.get(), stats.get()); },
      [out, stats](Napi::Env env) -> Napi::Value {
        Napi::Object r = QuantizedWeightToJs(env, std::move(out->q));
        r.Set("zeroPoints", AdoptTyped(env, std::move(out->zero_points)));
        r.Set("objective", ToNumberArray(env, stats->objective));
        r.Set("iterations", stats->iterations);
        r.Set("initial", stats->initial);
        r.Set("final", stats->final_objective);
        return r;
      });
}

AdaRoundSpec AdaRoundOptions(const Napi::Object& o) {
  AdaRoundSpec s;
  s.iterations = IntOption(o, "iterations", 1000);
  s.lambda = NumberOption(o, "lambda", 0.01);
  s.beta_start = NumberOption(o, "betaStart", 20.0);
  s.beta_end = NumberOption(o, "betaEnd", 2.0);
  s.warmup = NumberOption(o, "warmup", 0.2);
  s.lr = NumberOption(o, "lr", 1e-3);
  return s;
}

// The grid arguments (scales: Float32Array, zeros: Uint8Array) of rows × ⌈cols/groupSize⌉.
AdaRoundGrid GridArgs(const Napi::CallbackInfo& info, PinnedInputs* in, size_t at, int rows, int cols, const Napi::Object& o) {
  AdaRoundGrid g;
  g.bits = IntOption(o, "bits", 4);
  g.group_size = IntOption(o, "groupSize", cols);
  if (g.group_size <= 0 || g.group_size > cols) g.group_size = cols;
  const size_t ng = (size_t(cols) + g.group_size - 1) / g.group_size;
  g.scales = in->Pin<float>(info[at], size_t(rows) * ng, "scales");
  g.zeros = in->Pin<uint8_t>(info[at + 1], size_t(rows) * ng, "zeros");
  return g;
}

// adaround(w, rows, cols, H, scales, zeros, {bits, groupSize, iterations, lambda, betaStart, betaEnd, warmup, lr}, ctl)
//   → Promise<QuantizedWeight & {lossNearest, loss, flips, iterations}>
Napi::Value AdaRoundJs(const Napi::CallbackInfo& info) {
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* h = in.Pin<double>(info[3], size_t(w.cols) * w.cols, "H");
  Napi::Object o = OptionsArg(info, 6);
  const AdaRoundGrid grid = GridArgs(info, &in, 4, w.rows, w.cols, o);
  const AdaRoundSpec spec = AdaRoundOptions(o);
  auto out = std::make_shared<QuantizedWeight>();
  auto stats = std::make_shared<AdaRoundStats>();
  return KernelWorker::Start(info.Env(), info[7], std::move(in),
      [=](const JobControl& ctl) { return QuantizeAdaRound(w.data, w.rows, w.cols, h, grid, spec, ctl, out.get(), stats.get()); },
      [out, stats](Napi::Env env) -> Napi::Value {
        Napi::Object r = QuantizedWeightToJs(env, std::move(*out));
        r.Set("lossNearest", stats->loss_nearest);
        r.Set("loss", stats->loss);
        r.Set("flips", static_cast<double>(stats->flips));
        r.Set("iterations", stats->iterations);
        return r;
      });
}

// adaroundLossGrad(w, rows, cols, H, scales, zeros, V: Float64Array, {bits, groupSize, lambda, beta, withReg})
//   → {rec, reg, grad: Float64Array, init: Float64Array (V at initialization)}
Napi::Value AdaRoundLossGradJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PinnedInputs in;
  const Matrix<float> w = in.PinMatrix<float>(info, "w");
  const double* h = in.Pin<double>(info[3], size_t(w.cols) * w.cols, "H");
  Napi::Object o = OptionsArg(info, 7);
  const AdaRoundGrid grid = GridArgs(info, &in, 4, w.rows, w.cols, o);
  const double* v = in.Pin<double>(info[6], size_t(w.rows) * w.cols, "V");
  AdaRoundSpec spec = AdaRoundOptions(o);
  double rec = 0, reg = 0;
  std::vector<double> grad(size_t(w.rows) * w.cols), init;
  Status st = AdaRoundLossGrad(w.data, w.rows, w.cols, h, grid, spec, v, NumberOption(o, "beta", 20.0),
                               BoolOption(o, "withReg", true), 0, &rec, &reg, grad.data());
  if (!st.ok()) throw StatusError(env, st);
  AdaRoundInit(w.data, w.rows, w.cols, grid, spec, &init);
  Napi::Object r = Napi::Object::New(env);
  r.Set("rec", rec);
  r.Set("reg", reg);
  r.Set("grad", AdoptTyped(env, std::move(grad)));
  r.Set("init", AdoptTyped(env, std::move(init)));
  return r;
}

}  // namespace

/** Adds the rounding-optimization kernels (HQQ, AdaRound) to the addon's exports. */
void RegisterRounding(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {
      {"hqq", HqqJs},
      {"adaround", AdaRoundJs},
      {"adaroundLossGrad", AdaRoundLossGradJs},
  });
}

}  // namespace lowbit::binding
