// Entry point of the native addon: only what Node cannot do itself
// (see DESIGN.md, "Why the addon exists").
#include "common.h"
#include <cstring>

namespace rootless {

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

Napi::Object MakeErrnoError(Napi::Env env, int err, const char* syscall, const std::string& subject) {
  std::string msg = syscall;
  if (!subject.empty()) msg += " " + subject;
  msg += ": ";
  msg += ErrnoName(err);
  msg += " (";
  msg += strerror(err);
  msg += ")";
  Napi::Error e = Napi::Error::New(env, msg);
  Napi::Object o = e.Value();
  o.Set("code", ErrnoName(err));
  o.Set("errno", err);
  o.Set("syscall", syscall);
  if (!subject.empty()) o.Set("subject", subject);
  return o;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& subject) {
  throw Napi::Error(env, MakeErrnoError(env, err, syscall, subject));
}

int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::string BytesValue(Napi::Env env, Napi::Value v, const char* name) {
  std::string out;
  if (v.IsString()) {
    out = v.As<Napi::String>().Utf8Value();
  } else if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    Napi::Uint8Array a = v.As<Napi::Uint8Array>();
    out.assign(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
  } else {
    throw Napi::TypeError::New(env, std::string(name) + " must be a string or a Buffer");
  }
  if (out.find('\0') != std::string::npos) throw Napi::TypeError::New(env, std::string(name) + " must not contain NUL bytes");
  return out;
}

}  // namespace rootless

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  rootless::InitSpawn(env, exports);
  rootless::InitProcWatch(env, exports);
  rootless::InitSys(env, exports);
  rootless::InitNet(env, exports);
  rootless::InitPort(env, exports);
  rootless::InitNs(env, exports);
  rootless::InitNotify(env, exports);
  rootless::InitFdPass(env, exports);
  rootless::InitPty(env, exports);
  return exports;
}

NODE_API_MODULE(rootless, Init)
