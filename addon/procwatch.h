#pragma once
#include <napi.h>
#include <mutex>

namespace rootless {

// Held across clone and registration so a reaper thread cannot reap a new
// child before its exit callback is registered.
std::mutex& WatchMutex();

// Calls cb(null, {pid, code, signal}) once the process exits. The caller
// holds WatchMutex(). Without a reaper, a thread waits on the pidfd with
// waitid(P_PIDFD) so the process never calls waitpid(-1) and never races
// libuv's own child handling; with the reaper (PID 1 in a pid namespace)
// the reaper thread reaps everything and dispatches watched pids here.
void WatchExitLocked(Napi::Env env, int pid, int pidfd, Napi::Function cb);

}  // namespace rootless
