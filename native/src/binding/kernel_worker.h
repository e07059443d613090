// Binding-only (includes napi.h): the one async-job contract of every kernel binding, plus the
// argument and result helpers they share.
//
// JS contract of an async kernel: `kernel(...inputs, opts, ctl) → Promise<result>` with
//   ctl = { token?: cancel token from lbCreateToken(), onProgress?: (done, total) => void, threads?: number }.
// lbCancel(token) sets the cooperative flag the core polls between blocks; the promise then rejects
// with an Error whose `code` is E_CANCELLED (E_SHAPE / E_NUMERIC / E_ARG for the other failures).
//
// Inputs are zero-copy: the core reads the typed arrays' own memory while the job runs, and the
// worker pins them (a Napi::Reference) until the promise settles. V8 backing stores never move (a
// small on-heap typed array is moved off-heap by napi_get_typedarray_info before we see its data),
// but the CALLER MUST NOT MUTATE (or transfer/detach) an input while its promise is pending.
// Outputs are zero-copy too: result typed arrays are built over the core's result vectors (an
// external ArrayBuffer whose finalizer frees the vector), falling back to one copy where the
// runtime forbids external buffers (the V8 sandbox of Electron).
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/rtn.h"
#include "lowbit/sparse.h"
#include "lowbit/status.h"

namespace lowbit::binding {

// ---------------------------------------------------------------- exports

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);

/** Sets exports[name] = fn for each {name, fn}. */
inline void SetExports(Napi::Env env, Napi::Object exports, std::initializer_list<std::pair<const char*, Binding>> fns) {
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}

// ---------------------------------------------------------------- errors

/** Throws a JS TypeError with code E_ARG (a binding-side re-check of a TS-validated argument). */
[[noreturn]] inline void ThrowArg(Napi::Env env, const std::string& msg) {
  Napi::TypeError err = Napi::TypeError::New(env, msg);
  err.Set("code", Napi::String::New(env, "E_ARG"));
  throw err;
}

/** A core Status as a JS Error with `code` (E_SHAPE, E_NUMERIC, E_CANCELLED, E_ARG). */
inline Napi::Error StatusError(Napi::Env env, const Status& st) {
  Napi::Error err = Napi::Error::New(env, st.message);
  err.Set("code", Napi::String::New(env, CodeName(st.code)));
  return err;
}

// ---------------------------------------------------------------- arguments

/** Any length is accepted (the caller checks it against another argument). */
constexpr size_t kAnyLength = std::numeric_limits<size_t>::max();

template <typename T> constexpr napi_typedarray_type kTypedArrayKind = napi_uint8_array;
template <> constexpr napi_typedarray_type kTypedArrayKind<float> = napi_float32_array;
template <> constexpr napi_typedarray_type kTypedArrayKind<double> = napi_float64_array;
template <typename T> constexpr const char* kTypedArrayName = "Uint8Array";
template <> constexpr const char* kTypedArrayName<float> = "Float32Array";
template <> constexpr const char* kTypedArrayName<double> = "Float64Array";

/** `v` as a T typed array of `length` elements (kAnyLength: any), else an E_ARG naming `name`. */
template <typename T>
Napi::TypedArrayOf<T> TypedArg(const Napi::Value& v, size_t length, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != kTypedArrayKind<T>)
    ThrowArg(v.Env(), std::string(name) + " must be a " + kTypedArrayName<T>);
  auto a = v.As<Napi::TypedArrayOf<T>>();
  if (length != kAnyLength && a.ElementLength() != length)
    ThrowArg(v.Env(), std::string(name) + " has length " + std::to_string(a.ElementLength()) + ", expected " + std::to_string(length));
  return a;
}

/** Argument `i` as a positive int32 (a matrix dimension), else an E_ARG naming `name`. */
inline int DimArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
  if (!(d >= 1 && d <= std::numeric_limits<int32_t>::max() && d == static_cast<int32_t>(d)))
    ThrowArg(info.Env(), std::string(name) + " must be a positive integer");
  return static_cast<int32_t>(d);
}

/** Argument `i` as an options object ({} when undefined), else an E_ARG naming `name`. */
inline Napi::Object OptionsArg(const Napi::CallbackInfo& info, size_t i, const char* name = "opts") {
  Napi::Value v = info[i];
  if (v.IsUndefined() || v.IsNull()) return Napi::Object::New(info.Env());
  if (!v.IsObject()) ThrowArg(info.Env(), std::string(name) + " must be an object");
  return v.As<Napi::Object>();
}

/** o[key] when present (undefined/null = absent), checked with `is`; E_ARG "opts.key must be <what>". */
inline Napi::Value OptionValue(const Napi::Object& o, const char* key, bool (Napi::Value::*is)() const, const char* what) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return Napi::Value();
  if (!(v.*is)()) ThrowArg(o.Env(), std::string("opts.") + key + " must be " + what);
  return v;
}
inline double NumberOption(const Napi::Object& o, const char* key, double def) {
  Napi::Value v = OptionValue(o, key, &Napi::Value::IsNumber, "a number");
  return v.IsEmpty() ? def : v.As<Napi::Number>().DoubleValue();
}
inline int IntOption(const Napi::Object& o, const char* key, int def) {
  Napi::Value v = OptionValue(o, key, &Napi::Value::IsNumber, "a number");
  return v.IsEmpty() ? def : v.As<Napi::Number>().Int32Value();
}
inline bool BoolOption(const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = OptionValue(o, key, &Napi::Value::IsBoolean, "a boolean");
  return v.IsEmpty() ? def : v.As<Napi::Boolean>().Value();
}

/** The RTN grid options {bits, symmetric, mseClip} (docs/algorithms.md §1). */
inline GridSpec GridOptions(const Napi::Object& o) {
  GridSpec g;
  g.bits = IntOption(o, "bits", 4);
  g.symmetric = BoolOption(o, "symmetric", false);
  g.mse_clip = BoolOption(o, "mseClip", false);
  return g;
}

/** The pruning options {sparsity, pruneN, pruneM, pruneOnly} (SparseGPT, Wanda, magnitude). */
inline PruneSpec PruneOptions(const Napi::Object& o) {
  PruneSpec p;
  p.ratio = NumberOption(o, "sparsity", 0.0);
  p.n = IntOption(o, "pruneN", 0);
  p.m = IntOption(o, "pruneM", 0);
  p.quantize = !BoolOption(o, "pruneOnly", false);
  return p;
}

/** A row-major rows×cols matrix read in place. */
template <typename T>
struct Matrix {
  const T* data;
  int rows, cols;
};

/**
 * The typed-array inputs of one async job, read in place (no copy) and pinned until it settles.
 * Pin/PinOptional/PinMatrix return the data pointer the core reads from the worker thread.
 */
class PinnedInputs {
 public:
  /** The kernels' common head `(a, rows, cols, ...)`: info[0] as a rows×cols matrix named `name`. */
  template <typename T>
  Matrix<T> PinMatrix(const Napi::CallbackInfo& info, const char* name) {
    const int rows = DimArg(info, 1, "rows"), cols = DimArg(info, 2, "cols");
    return {Pin<T>(info[0], size_t(rows) * cols, name), rows, cols};
  }
  template <typename T>
  const T* Pin(const Napi::Value& v, size_t length, const char* name) {
    Napi::TypedArrayOf<T> a = TypedArg<T>(v, length, name);
    refs_.push_back(Napi::Persistent(Napi::Object(a)));
    return a.Data();
  }
  /** nullptr when `v` is undefined or null. */
  template <typename T>
  const T* PinOptional(const Napi::Value& v, size_t length, const char* name) {
    return v.IsUndefined() || v.IsNull() ? nullptr : Pin<T>(v, length, name);
  }

 private:
  std::vector<Napi::ObjectReference> refs_;
};

// ---------------------------------------------------------------- results

/** A typed array over `v`'s own memory (the ArrayBuffer frees the vector); copies where external buffers are forbidden. */
template <typename T, typename A>
Napi::TypedArrayOf<T> AdoptTyped(Napi::Env env, std::vector<T, A>&& v) {
  const size_t n = v.size();
  if (n == 0) return Napi::TypedArrayOf<T>::New(env, 0);
  auto* owned = new std::vector<T, A>(std::move(v));
  napi_value buffer = nullptr;
  const napi_status st = napi_create_external_arraybuffer(
      env, owned->data(), n * sizeof(T), [](napi_env, void*, void* hint) { delete static_cast<std::vector<T, A>*>(hint); },
      owned, &buffer);
  if (st != napi_ok) {  // e.g. napi_no_external_buffers_allowed under the V8 sandbox
    Napi::TypedArrayOf<T> copy = Napi::TypedArrayOf<T>::New(env, n);
    std::memcpy(copy.Data(), owned->data(), n * sizeof(T));
    delete owned;
    return copy;
  }
  return Napi::TypedArrayOf<T>::New(env, n, Napi::ArrayBuffer(env, buffer), 0);
}

/** float64 values narrowed into a new Float32Array. */
inline Napi::Float32Array ToFloat32(Napi::Env env, const std::vector<double>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = static_cast<float>(v[i]);
  return a;
}

/** A plain JS number[] (small diagnostic series). */
template <typename T>
Napi::Array ToNumberArray(Napi::Env env, const std::vector<T>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
  return a;
}

/** A QuantizedWeight as {rows, cols, bits, groupSize, symmetric, codes, scales, zeros, dequant}; moves its arrays. */
inline Napi::Object QuantizedWeightToJs(Napi::Env env, QuantizedWeight&& q) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rows", q.rows);
  o.Set("cols", q.cols);
  o.Set("bits", q.bits);
  o.Set("groupSize", q.group_size);
  o.Set("symmetric", q.symmetric);
  o.Set("codes", AdoptTyped(env, std::move(q.codes)));
  o.Set("scales", AdoptTyped(env, std::move(q.scales)));
  o.Set("zeros", AdoptTyped(env, std::move(q.zeros)));
  o.Set("dequant", AdoptTyped(env, std::move(q.dequant)));
  return o;
}

// ---------------------------------------------------------------- job control

using CancelFlag = std::shared_ptr<std::atomic<bool>>;

// Tags our cancel-token Externals so that a foreign External is rejected instead of misread.
constexpr napi_type_tag kCancelTokenTag = {0x6c6f77626974746bULL, 0x63616e63656c3031ULL};

/** lbCreateToken() → an External cancel token for ctl.token. */
inline Napi::Value CreateCancelToken(const Napi::CallbackInfo& info) {
  auto token = Napi::External<CancelFlag>::New(info.Env(), new CancelFlag(std::make_shared<std::atomic<bool>>(false)),
                                               [](Napi::Env, CancelFlag* f) { delete f; });
  token.TypeTag(&kCancelTokenTag);
  return token;
}

/** The flag behind a token from lbCreateToken, else an E_ARG naming `name`. */
inline CancelFlag CancelFlagOf(const Napi::Value& v, const char* name) {
  if (!v.IsExternal() || !v.As<Napi::External<CancelFlag>>().CheckTypeTag(&kCancelTokenTag))
    ThrowArg(v.Env(), std::string(name) + " must be a token from lbCreateToken()");
  return *v.As<Napi::External<CancelFlag>>().Data();
}

/** lbCancel(token): asks the job(s) holding the token to stop at their next check. */
inline Napi::Value CancelToken(const Napi::CallbackInfo& info) {
  CancelFlagOf(info[0], "token")->store(true);
  return info.Env().Undefined();
}

/** Registers lbCreateToken / lbCancel, the one cancel-token pair of every async kernel. */
inline void RegisterCancelTokens(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {{"lbCreateToken", CreateCancelToken}, {"lbCancel", CancelToken}});
}

/** ctl = { token?, onProgress?: (done, total) => void, threads?: number }, each checked (E_ARG). */
struct JobControlArgs {
  CancelFlag cancel = std::make_shared<std::atomic<bool>>(false);
  Napi::Function on_progress;
  int threads = 0;
};
inline JobControlArgs ReadJobControl(const Napi::Value& v) {
  JobControlArgs c;
  if (v.IsUndefined() || v.IsNull()) return c;
  if (!v.IsObject()) ThrowArg(v.Env(), "ctl must be an object");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value token = o.Get("token");
  if (!token.IsUndefined()) c.cancel = CancelFlagOf(token, "ctl.token");
  Napi::Value progress = o.Get("onProgress");
  if (progress.IsFunction()) c.on_progress = progress.As<Napi::Function>();
  else if (!progress.IsUndefined()) ThrowArg(v.Env(), "ctl.onProgress must be a function");
  Napi::Value threads = o.Get("threads");
  if (threads.IsNumber()) c.threads = threads.As<Napi::Number>().Int32Value();
  else if (!threads.IsUndefined()) ThrowArg(v.Env(), "ctl.threads must be a number");
  return c;
}

// ---------------------------------------------------------------- the worker

struct ProgressTick {
  size_t done;
  size_t total;
};

/**
 * Runs a core kernel on the libuv pool: `run` on the worker thread, `build` on the JS thread to make
 * the result. Progress ticks reach ctl.onProgress(done, total) in order; the promise resolves with
 * build()'s value or rejects with the Status as a coded Error.
 */
class KernelWorker final : public Napi::AsyncProgressQueueWorker<ProgressTick> {
 public:
  using Run = std::function<Status(const JobControl&)>;
  using Build = std::function<Napi::Value(Napi::Env)>;

  /** Reads `ctl`, queues the job and returns its promise; `inputs` stay pinned until it settles. */
  static Napi::Promise Start(Napi::Env env, const Napi::Value& ctl, PinnedInputs inputs, Run run, Build build) {
    auto* worker = new KernelWorker(env, ReadJobControl(ctl), std::move(inputs), std::move(run), std::move(build));
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    JobControl ctl;
    ctl.cancel = cancel_.get();
    ctl.threads = threads_;
    if (!progress_.IsEmpty())
      ctl.progress = [&progress](size_t done, size_t total) {
        const ProgressTick tick{done, total};
        progress.Send(&tick, 1);
      };
    status_ = run_(ctl);
  }
  void OnProgress(const ProgressTick* ticks, size_t count) override {
    Napi::Env env = Env();
    for (size_t i = 0; i < count && !progress_.IsEmpty(); ++i)
      progress_.Call({Napi::Number::New(env, static_cast<double>(ticks[i].done)),
                      Napi::Number::New(env, static_cast<double>(ticks[i].total))});
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      deferred_.Reject(StatusError(env, status_).Value());
      return;
    }
    try {
      deferred_.Resolve(build_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  KernelWorker(Napi::Env env, JobControlArgs control, PinnedInputs inputs, Run run, Build build)
      : Napi::AsyncProgressQueueWorker<ProgressTick>(env), deferred_(Napi::Promise::Deferred::New(env)),
        cancel_(std::move(control.cancel)), threads_(control.threads), inputs_(std::move(inputs)), run_(std::move(run)),
        build_(std::move(build)) {
    if (!control.on_progress.IsEmpty()) progress_ = Napi::Persistent(control.on_progress);
  }

  Napi::Promise::Deferred deferred_;
  CancelFlag cancel_;
  int threads_;
  PinnedInputs inputs_;  // released with the worker, right after OnOK/OnError
  Run run_;
  Build build_;
  Napi::FunctionReference progress_;
  Status status_;
};

}  // namespace lowbit::binding
