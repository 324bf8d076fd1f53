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

// Never destroyed: detached threads use them until the process ends, and
// exit()'s destructor of a condition variable with a waiter (the reaper)
// blocks forever (glibc), so the child as PID 1 could not exit.
std::mutex& g_mutex = *new std::mutex;
std::condition_variable& g_spawned = *new std::condition_variable;  // signalled when a child is registered
uint64_t g_spawn_count = 0;         // under g_mutex
std::atomic<bool> g_reaper_running{false};
// Every watched pid until its status is delivered, in both modes: whoever
// reaps it (its pidfd thread, or the reaper if it was started later) takes
// the callback from here, so a status is delivered exactly once.
std::unordered_map<int, Napi::ThreadSafeFunction>& g_watched = *new std::unordered_map<int, Napi::ThreadSafeFunction>;

bool TakeWatch(int pid, Napi::ThreadSafeFunction* out) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_watched.find(pid);
  if (it == g_watched.end()) return false;
  *out = it->second;
  g_watched.erase(it);
  return true;
}

void ReaperLoop() {
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      seen = g_spawn_count;
    }
    siginfo_t si{};
    // __WALL: orphans of any exit signal.
    if (waitid(P_ALL, 0, &si, WEXITED | __WALL) != 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) {
        // No children at all: orphans can only come from a descendant, so
        // nothing can appear before we spawn again.
        std::unique_lock<std::mutex> lock(g_mutex);
        g_spawned.wait(lock, [seen] { return g_spawn_count != seen; });
        continue;
      }
      return;
    }
    Napi::ThreadSafeFunction tsfn;
    if (TakeWatch(si.si_pid, &tsfn)) Deliver(tsfn, FromSiginfo(si));  // else an orphan: reaped
  }
}

Napi::Value StartReaper(const Napi::CallbackInfo& info) {
  bool expected = false;
  if (g_reaper_running.compare_exchange_strong(expected, true)) std::thread(ReaperLoop).detach();
  return info.Env().Undefined();
}

}  // namespace

std::mutex& WatchMutex() { return g_mutex; }

void WatchExitLocked(Napi::Env env, int pid, int pidfd, Napi::Function cb) {
  Napi::ThreadSafeFunction tsfn = Napi::ThreadSafeFunction::New(env, cb, "rootless:exit", 0, 1);
  g_watched[pid] = tsfn;
  g_spawn_count++;
  g_spawned.notify_all();
  if (g_reaper_running.load()) return;
  // A private duplicate: the caller may close its pidfd while we wait.
  int fd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
  std::thread([fd, pid]() {
    siginfo_t si{};
    int rc;
    do {
      rc = waitid(static_cast<idtype_t>(P_PIDFD), fd, &si, WEXITED);
    } while (rc != 0 && errno == EINTR);
    int err = errno;
    close(fd);
    // ECHILD with the reaper running: the reaper took the status and
    // delivers it.
    if (rc != 0 && err == ECHILD && g_reaper_running.load()) return;
    Napi::ThreadSafeFunction taken;
    if (!TakeWatch(pid, &taken)) return;
    Deliver(taken, rc == 0 ? FromSiginfo(si) : ExitStatus{pid, -1, 0});
  }).detach();
}

void InitProcWatch(Napi::Env env, Napi::Object exports) {
  exports.Set("startReaper", Napi::Function::New(env, StartReaper, "startReaper"));
}

}  // namespace rootless
