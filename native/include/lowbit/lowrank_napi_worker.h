// Binding-only (includes napi.h): the async worker shared by binarize_binding.cc and
// lowrank_binding.cc. Runs a core kernel off the JS thread with a cooperative cancel flag and
// progress forwarded to an optional JS callback; resolves a promise or rejects with an Error whose
// `code` is E_SHAPE / E_NUMERIC / E_CANCELLED / E_ARG.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lowbit/status.h"

namespace lowbit {

using CancelFlag = std::shared_ptr<std::atomic<bool>>;

/** Async kernel runner: `run` on a worker thread, `build` on the JS thread to make the result. */
class BinlrWorker : public Napi::AsyncProgressQueueWorker<double> {
 public:
  BinlrWorker(Napi::Env env, std::function<Status(const JobControl&)> run,
              std::function<Napi::Value(Napi::Env)> build, CancelFlag cancel, int threads,
              Napi::Function progress)
      : Napi::AsyncProgressQueueWorker<double>(env), deferred_(Napi::Promise::Deferred::New(env)),
        run_(std::move(run)), build_(std::move(build)), cancel_(std::move(cancel)), threads_(threads) {
    if (!progress.IsEmpty()) progress_ = Napi::Persistent(progress);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& p) override {
    JobControl ctl;
    ctl.cancel = cancel_.get();
    ctl.threads = threads_;
    ctl.progress = [&p](size_t done, size_t total) {
      double f = total ? (double)done / (double)total : 1.0;
      p.Send(&f, 1);
    };
    status_ = run_(ctl);
  }
  void OnProgress(const double* data, size_t count) override {
    if (!progress_.IsEmpty() && count)
      progress_.Value().Call({Napi::Number::New(Env(), data[count - 1])});
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      Napi::Error err = Napi::Error::New(env, status_.message);
      err.Set("code", Napi::String::New(env, CodeName(status_.code)));
      deferred_.Reject(err.Value());
      return;
    }
    deferred_.Resolve(build_(env));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<Status(const JobControl&)> run_;
  std::function<Napi::Value(Napi::Env)> build_;
  CancelFlag cancel_;
  int threads_;
  Napi::FunctionReference progress_;
  Status status_;
};

/** Reads control {token?: External<CancelFlag>, onProgress?: Function, threads?: number}. */
struct BinlrControlArgs {
  CancelFlag cancel = std::make_shared<std::atomic<bool>>(false);
  Napi::Function progress;
  int threads = 0;
};
inline BinlrControlArgs ReadControl(const Napi::Value& v) {
  BinlrControlArgs c;
  if (!v.IsObject()) return c;
  Napi::Object o = v.As<Napi::Object>();
  if (o.Has("token") && o.Get("token").IsExternal())
    c.cancel = *o.Get("token").As<Napi::External<CancelFlag>>().Data();
  if (o.Has("onProgress") && o.Get("onProgress").IsFunction()) c.progress = o.Get("onProgress").As<Napi::Function>();
  if (o.Has("threads") && o.Get("threads").IsNumber()) c.threads = o.Get("threads").As<Napi::Number>().Int32Value();
  return c;
}

inline double OptNum(const Napi::Object& o, const char* k, double def) {
  return o.Has(k) && o.Get(k).IsNumber() ? o.Get(k).As<Napi::Number>().DoubleValue() : def;
}
inline bool OptBool(const Napi::Object& o, const char* k, bool def) {
  return o.Has(k) && o.Get(k).IsBoolean() ? o.Get(k).As<Napi::Boolean>().Value() : def;
}
template <typename T, typename A>
inline std::vector<T> CopyTyped(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string("Expected a typed array for ") + what);
  A a = v.As<A>();
  return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
}
template <typename T, typename A>
inline A MakeTyped(Napi::Env env, const std::vector<T>& v) {
  A a = A::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}
inline Napi::Float32Array ToF32(Napi::Env env, const std::vector<double>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = (float)v[i];
  return a;
}
inline Napi::Array ToArray(Napi::Env env, const std::vector<double>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set((uint32_t)i, Napi::Number::New(env, v[i]));
  return a;
}

}  // namespace lowbit
