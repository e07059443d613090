// N-API binding of the linear-method kernels: RTN, GPTQ (async, cancellable, with progress), Hessian
// accumulation and relative error (synchronous, multithreaded). Errors carry `code` (E_SHAPE, ...).
#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lowbit/gptq.h"
#include "lowbit/hessian.h"
#include "lowbit/layer_error.h"
#include "lowbit/rtn.h"
#include "lowbit/status.h"

namespace lowbit {
namespace {

using Flag = std::shared_ptr<std::atomic<bool>>;

Napi::Error MakeError(Napi::Env env, const Status& st) {
  Napi::Error err = Napi::Error::New(env, st.message);
  err.Set("code", Napi::String::New(env, CodeName(st.code)));
  return err;
}

Napi::Object ToJs(Napi::Env env, const QuantizedWeight& q) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rows", q.rows);
  o.Set("cols", q.cols);
  o.Set("bits", q.bits);
  o.Set("groupSize", q.group_size);
  o.Set("symmetric", q.symmetric);
  auto codes = Napi::Uint8Array::New(env, q.codes.size());
  std::copy(q.codes.begin(), q.codes.end(), codes.Data());
  auto zeros = Napi::Uint8Array::New(env, q.zeros.size());
  std::copy(q.zeros.begin(), q.zeros.end(), zeros.Data());
  auto scales = Napi::Float32Array::New(env, q.scales.size());
  std::copy(q.scales.begin(), q.scales.end(), scales.Data());
  auto deq = Napi::Float32Array::New(env, q.dequant.size());
  std::copy(q.dequant.begin(), q.dequant.end(), deq.Data());
  o.Set("codes", codes);
  o.Set("zeros", zeros);
  o.Set("scales", scales);
  o.Set("dequant", deq);
  return o;
}

/** Runs `run` off the JS thread; progress (done, total) is forwarded to an optional JS callback. */
class Worker : public Napi::AsyncProgressQueueWorker<double> {
 public:
  Worker(Napi::Env env, std::function<Status(const JobControl&)> run, std::function<Napi::Value(Napi::Env)> build,
         Flag cancel, int threads, Napi::Value progress)
      : Napi::AsyncProgressQueueWorker<double>(env), deferred_(Napi::Promise::Deferred::New(env)),
        run_(std::move(run)), build_(std::move(build)), cancel_(std::move(cancel)), threads_(threads) {
    if (progress.IsFunction()) progress_ = Napi::Persistent(progress.As<Napi::Function>());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute(const ExecutionProgress& p) override {
    JobControl ctl;
    ctl.cancel = cancel_.get();
    ctl.threads = threads_;
    ctl.progress = [&p](size_t done, size_t total) {
      double v[2] = {static_cast<double>(done), static_cast<double>(total)};
      p.Send(v, 2);
    };
    status_ = run_(ctl);
  }
  void OnProgress(const double* d, size_t count) override {
    if (!progress_.IsEmpty() && count == 2)
      progress_.Value().Call({Napi::Number::New(Env(), d[0]), Napi::Number::New(Env(), d[1])});
  }
  void OnOK() override {
    if (!status_.ok()) {
      deferred_.Reject(MakeError(Env(), status_).Value());
      return;
    }
    deferred_.Resolve(build_(Env()));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<Status(const JobControl&)> run_;
  std::function<Napi::Value(Napi::Env)> build_;
  Flag cancel_;
  int threads_;
  Napi::FunctionReference progress_;
  Status status_;
};

int Int(const Napi::Object& o, const char* k, int def) {
  return o.Has(k) && o.Get(k).IsNumber() ? o.Get(k).As<Napi::Number>().Int32Value() : def;
}
double Num(const Napi::Object& o, const char* k, double def) {
  return o.Has(k) && o.Get(k).IsNumber() ? o.Get(k).As<Napi::Number>().DoubleValue() : def;
}
bool Bool(const Napi::Object& o, const char* k, bool def) {
  return o.Has(k) && o.Get(k).IsBoolean() ? o.Get(k).As<Napi::Boolean>().Value() : def;
}

GridSpec ReadGrid(const Napi::Object& o) {
  GridSpec g;
  g.bits = Int(o, "bits", 4);
  g.symmetric = Bool(o, "symmetric", false);
  g.mse_clip = Bool(o, "mseClip", false);
  return g;
}

// ctl = { token?: External<Flag>, onProgress?: Function, threads?: number }
struct Ctl {
  Flag cancel = std::make_shared<std::atomic<bool>>(false);
  Napi::Value progress;
  int threads = 0;
};
Ctl ReadCtl(const Napi::Value& v) {
  Ctl c;
  if (!v.IsObject()) return c;
  Napi::Object o = v.As<Napi::Object>();
  if (o.Has("token") && o.Get("token").IsExternal()) c.cancel = *o.Get("token").As<Napi::External<Flag>>().Data();
  if (o.Has("onProgress")) c.progress = o.Get("onProgress");
  c.threads = Int(o, "threads", 0);
  return c;
}

std::vector<float> F32(const Napi::Value& v) {
  auto a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

Napi::Value CreateToken(const Napi::CallbackInfo& info) {
  return Napi::External<Flag>::New(info.Env(), new Flag(std::make_shared<std::atomic<bool>>(false)),
                                   [](Napi::Env, Flag* f) { delete f; });
}
Napi::Value Cancel(const Napi::CallbackInfo& info) {
  (*info[0].As<Napi::External<Flag>>().Data())->store(true);
  return info.Env().Undefined();
}

// rtn(w: Float32Array, rows, cols, {bits, groupSize, symmetric, mseClip}, ctl)
Napi::Value Rtn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto w = std::make_shared<std::vector<float>>(F32(info[0]));
  int rows = info[1].As<Napi::Number>().Int32Value(), cols = info[2].As<Napi::Number>().Int32Value();
  Napi::Object o = info[3].As<Napi::Object>();
  GridSpec spec = ReadGrid(o);
  int group = Int(o, "groupSize", -1);
  Ctl c = ReadCtl(info[4]);
  auto out = std::make_shared<QuantizedWeight>();
  auto* wk = new Worker(
      env, [=](const JobControl& ctl) { return QuantizeRtn(w->data(), rows, cols, group, spec, ctl, out.get()); },
      [out](Napi::Env e) -> Napi::Value { return ToJs(e, *out); }, c.cancel, c.threads, c.progress);
  wk->Queue();
  return wk->Promise();
}

// gptq(w, rows, cols, H: Float64Array, {bits, groupSize, symmetric, mseClip, damp, blockSize, actOrder, staticGroups}, ctl)
Napi::Value GptqJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto w = std::make_shared<std::vector<float>>(F32(info[0]));
  int rows = info[1].As<Napi::Number>().Int32Value(), cols = info[2].As<Napi::Number>().Int32Value();
  auto ha = info[3].As<Napi::Float64Array>();
  auto h = std::make_shared<std::vector<double>>(ha.Data(), ha.Data() + ha.ElementLength());
  Napi::Object o = info[4].As<Napi::Object>();
  GptqSpec spec;
  spec.grid = ReadGrid(o);
  spec.group_size = Int(o, "groupSize", -1);
  spec.percdamp = Num(o, "damp", 0.01);
  spec.block_size = Int(o, "blockSize", 128);
  spec.act_order = Bool(o, "actOrder", false);
  spec.static_groups = Bool(o, "staticGroups", false);
  const bool naive = Bool(o, "naiveBaseline", false);  // benchmark only: naive triple-loop lazy update
  Ctl c = ReadCtl(info[5]);
  auto out = std::make_shared<QuantizedWeight>();
  auto stats = std::make_shared<GptqStats>();
  auto* wk = new Worker(
      env,
      [=](const JobControl& ctl) {
        return naive ? QuantizeGptqNaive(w->data(), rows, cols, h->data(), spec, ctl, out.get(), stats.get())
                     : QuantizeGptq(w->data(), rows, cols, h->data(), spec, ctl, out.get(), stats.get());
      },
      [out, stats](Napi::Env e) -> Napi::Value {
        Napi::Object r = ToJs(e, *out);
        r.Set("loss", stats->loss);
        r.Set("damp", stats->percdamp);
        r.Set("dampRetries", stats->damp_retries);
        return r;
      },
      c.cancel, c.threads, c.progress);
  wk->Queue();
  return wk->Promise();
}

// hessianAdd(H: Float64Array n×n (updated in place), n, samples, x: Float32Array, tokens, threads) → samples
Napi::Value HessianAddJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto h = info[0].As<Napi::Float64Array>();
  int n = info[1].As<Napi::Number>().Int32Value();
  double samples = info[2].As<Napi::Number>().DoubleValue();
  auto x = info[3].As<Napi::Float32Array>();
  int tokens = info[4].As<Napi::Number>().Int32Value();
  int threads = info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : 0;
  Status st = AccumulateHessian(h.Data(), n, &samples, x.Data(), tokens, threads);
  if (!st.ok()) throw MakeError(env, st);
  return Napi::Number::New(env, samples);
}

// relativeError(w, what, rows, cols, H, threads) → tr(ΔHΔᵀ)/tr(WHWᵀ)
Napi::Value RelErrJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto w = info[0].As<Napi::Float32Array>();
  auto wh = info[1].As<Napi::Float32Array>();
  int rows = info[2].As<Napi::Number>().Int32Value(), cols = info[3].As<Napi::Number>().Int32Value();
  auto h = info[4].As<Napi::Float64Array>();
  int threads = info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : 0;
  double result = 0;
  Status st = RelativeError(w.Data(), wh.Data(), rows, cols, h.Data(), threads, &result);
  if (!st.ok()) throw MakeError(env, st);
  return Napi::Number::New(env, result);
}

}  // namespace

/** Adds the linear-method kernels to the addon's exports. */
void RegisterQuant(Napi::Env env, Napi::Object exports) {
  exports.Set("lbCreateToken", Napi::Function::New(env, CreateToken));
  exports.Set("lbCancel", Napi::Function::New(env, Cancel));
  exports.Set("rtn", Napi::Function::New(env, Rtn));
  exports.Set("gptq", Napi::Function::New(env, GptqJs));
  exports.Set("hessianAdd", Napi::Function::New(env, HessianAddJs));
  exports.Set("relativeError", Napi::Function::New(env, RelErrJs));
}

}  // namespace lowbit
