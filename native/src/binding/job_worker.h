// Shared async plumbing for every kernel binding: runs a core kernel on the libuv pool, forwards
// progress to an optional JS callback, and settles a Promise (rejecting with Error.code set).
// Each binding returns { promise, cancel } — cancel() sets the cooperative flag the core polls.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/rtn.h"
#include "lowbit/status.h"

namespace lowbit_binding {

using RunFn = std::function<lowbit::Status(const lowbit::JobControl&)>;
using ResultFn = std::function<Napi::Value(Napi::Env)>;

class JobWorker : public Napi::AsyncProgressQueueWorker<std::pair<size_t, size_t>> {
 public:
  JobWorker(Napi::Env env, Napi::Function progress, int threads, RunFn run, ResultFn result)
      : Napi::AsyncProgressQueueWorker<std::pair<size_t, size_t>>(env),
        deferred_(Napi::Promise::Deferred::New(env)), cancel_(std::make_shared<std::atomic<bool>>(false)),
        threads_(threads), run_(std::move(run)), result_(std::move(result)) {
    if (!progress.IsEmpty()) progress_ = Napi::Persistent(progress);
  }
  /** Queues the job and returns { promise, cancel }. */
  Napi::Object Start(Napi::Env env) {
    auto flag = cancel_;
    Napi::Object handle = Napi::Object::New(env);
    handle.Set("promise", deferred_.Promise());
    handle.Set("cancel", Napi::Function::New(env, [flag](const Napi::CallbackInfo& info) {
      flag->store(true);
      return info.Env().Undefined();
    }));
    Queue();
    return handle;
  }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    lowbit::JobControl ctl;
    ctl.cancel = cancel_.get();
    ctl.threads = threads_;
    if (!progress_.IsEmpty()) ctl.progress = [&progress](size_t d, size_t t) { auto p = std::make_pair(d, t); progress.Send(&p, 1); };
    status_ = run_(ctl);
  }
  void OnProgress(const std::pair<size_t, size_t>* data, size_t count) override {
    if (progress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    progress_.Call({Napi::Number::New(env, static_cast<double>(data[count - 1].first)),
                    Napi::Number::New(env, static_cast<double>(data[count - 1].second))});
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      Napi::Error err = Napi::Error::New(env, status_.message);
      err.Set("code", Napi::String::New(env, lowbit::CodeName(status_.code)));
      deferred_.Reject(err.Value());
      return;
    }
    deferred_.Resolve(result_(env));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  int threads_;
  RunFn run_;
  ResultFn result_;
  Napi::FunctionReference progress_;
  lowbit::Status status_;
};

/** Throws a JS TypeError carrying code E_ARG (binding-side re-check of TS-validated arguments). */
inline void ThrowArg(Napi::Env env, const std::string& msg) {
  Napi::TypeError err = Napi::TypeError::New(env, msg);
  err.Set("code", Napi::String::New(env, "E_ARG"));
  throw err;
}

/** Copies a typed array's contents (checked type and length) into a std::vector. */
template <typename T, napi_typedarray_type Kind>
std::vector<T> CopyTyped(Napi::Env env, const Napi::Value& v, size_t expected, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != Kind) ThrowArg(env, std::string(name) + " has the wrong typed-array type");
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  if (arr.ElementLength() != expected) ThrowArg(env, std::string(name) + " has length " + std::to_string(arr.ElementLength()) + ", expected " + std::to_string(expected));
  return std::vector<T>(arr.Data(), arr.Data() + expected);
}


}  // namespace lowbit_binding
