// Shared helpers for the addon: turning errno into JS errors that carry the
// errno name, the syscall and the object it was about.
#pragma once
#include <napi.h>
#include <cerrno>
#include <string>

namespace rootless {

// Throws a JS Error with .code (errno name), .errno, .syscall and, when
// given, .subject (a path or pid). The message is "syscall subject: CODE (text)".
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& subject = "");

Napi::Object MakeErrnoError(Napi::Env env, int err, const char* syscall, const std::string& subject = "");

const char* ErrnoName(int err);

// Argument helpers that throw TypeError naming the argument.
int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
// Argv elements, environment entries and paths are bytes in Linux, not text:
// a Buffer/Uint8Array gives its bytes as they are, a string its UTF-8. A NUL
// (which would end the C string early) is a TypeError naming `name`.
std::string BytesValue(Napi::Env env, Napi::Value v, const char* name);

void InitSpawn(Napi::Env env, Napi::Object exports);
void InitProcWatch(Napi::Env env, Napi::Object exports);
void InitSys(Napi::Env env, Napi::Object exports);
void InitNet(Napi::Env env, Napi::Object exports);   // addon/net.cc
void InitPort(Napi::Env env, Napi::Object exports);  // addon/port/bindings.cc
void InitNs(Napi::Env env, Napi::Object exports);    // addon/ns.cc
void InitNotify(Napi::Env env, Napi::Object exports); // addon/notify.cc
void InitFdPass(Napi::Env env, Napi::Object exports); // addon/fdpass.cc
void InitPty(Napi::Env env, Napi::Object exports);    // addon/pty.cc

}  // namespace rootless
