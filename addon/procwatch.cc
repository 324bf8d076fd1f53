// Exit notification for processes we spawned, and the reaper for when the
// child is PID 1 of a pid namespace and must reap orphans.
#include "common.h"
#include "procwatch.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <thread>
#include <unordered_map>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace rootless {
namespace {

struct ExitStatus {
  int pid;
  int code;    // -1 when killed
  int signal;  // 0 when exited
};

void CallExit(Napi::Env env, Napi::Function cb, std::nullptr_t*, ExitStatus* st) {
  if (env != nullptr && cb != nullptr) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("pid", st->pid);
    r.Set("code", st->code >= 0 ? Napi::Value(Napi::Number::New(env, st->code)) : env.Null());
    r.Set("signal", st->signal > 0 ? Napi::Value(Napi::Number::New(env, st->signal)) : env.Null());
    cb.Call({env.Null(), r});
  }
  delete st;
}

ExitStatus FromSiginfo(const siginfo_t& si) {
  ExitStatus st{si.si_pid, -1, 0};
  if (si.si_code == CLD_EXITED)
    st.code = si.si_status;
  else
    st.signal = si.si_status;
  return st;
}

void Deliver(Napi::ThreadSafeFunction tsfn, ExitStatus st) {
  auto* copy = new ExitStatus(st);
  napi_status s = tsfn.BlockingCall(copy, [](Napi::Env env, Napi::Function cb, ExitStatus* data) {
    CallExit(env, cb, nullptr, data);
  });
  if (s != napi_ok) delete copy;
  tsfn.Release();
}

std::mutex g_mutex;
std::condition_variable g_spawned;  // signalled when a child is registered
std::atomic<bool> g_reaper_running{false};
std::unordered_map<int, Napi::ThreadSafeFunction> g_watched;  // reaper mode only
std::atomic<uint64_t> g_orphans_reaped{0};

void ReaperLoop() {
  for (;;) {
    siginfo_t si{};
    if (waitid(P_ALL, 0, &si, WEXITED) != 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) {
        // No children at all: orphans can only come from a descendant, so
        // nothing can appear before we spawn again.
        std::unique_lock<std::mutex> lock(g_mutex);
        g_spawned.wait(lock, [] { return !g_watched.empty(); });
        continue;
      }
      return;
    }
    Napi::ThreadSafeFunction tsfn;
    bool watched = false;
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      auto it = g_watched.find(si.si_pid);
      if (it != g_watched.end()) {
        tsfn = it->second;
        g_watched.erase(it);
        watched = true;
      }
    }
    if (watched)
      Deliver(tsfn, FromSiginfo(si));
    else
      g_orphans_reaped++;
  }
}

Napi::Value StartReaper(const Napi::CallbackInfo& info) {
  bool expected = false;
  if (g_reaper_running.compare_exchange_strong(expected, true)) std::thread(ReaperLoop).detach();
  return info.Env().Undefined();
}

Napi::Value OrphansReaped(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_orphans_reaped.load()));
}

}  // namespace

std::mutex& WatchMutex() { return g_mutex; }

void WatchExitLocked(Napi::Env env, int pid, int pidfd, Napi::Function cb) {
  Napi::ThreadSafeFunction tsfn = Napi::ThreadSafeFunction::New(env, cb, "rootless:exit", 0, 1);
  if (g_reaper_running.load()) {
    g_watched[pid] = tsfn;
    g_spawned.notify_all();
    return;
  }
  // A private duplicate: the caller may close its pidfd while we wait.
  int fd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
  std::thread([tsfn, fd, pid]() {
    siginfo_t si{};
    int rc;
    do {
      rc = waitid(static_cast<idtype_t>(P_PIDFD), fd, &si, WEXITED);
    } while (rc != 0 && errno == EINTR);
    close(fd);
    ExitStatus st = rc == 0 ? FromSiginfo(si) : ExitStatus{pid, -1, 0};
    Deliver(tsfn, st);
  }).detach();
}

void InitProcWatch(Napi::Env env, Napi::Object exports) {
  exports.Set("startReaper", Napi::Function::New(env, StartReaper, "startReaper"));
  exports.Set("orphansReaped", Napi::Function::New(env, OrphansReaped, "orphansReaped"));
}

}  // namespace rootless
