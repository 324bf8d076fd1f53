// spawn(): create a process with clone3 (new namespaces, CLONE_PIDFD), then
// between clone and execve run only raw system calls: this process is
// multi-threaded (V8, libuv), so after the clone nothing that can take a lock
// or allocate is allowed. Everything the child needs is prepared beforehand.
#include "common.h"
#include "procwatch.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

namespace rootless {
namespace {

// Steps the child reports when it fails before execve. Kept in step with
// kStepNames below.
enum Step : int {
  kStepSignals, kStepPdeathsig, kStepParentGone, kStepSetns, kStepSetpgid,
  kStepTcsetpgrp, kStepChdir, kStepCapRaise, kStepCapClear, kStepDupFds,
  kStepCloseFds, kStepExec, kStepForkPidns, kStepSetsid, kStepCtty, kStepGate, kStepPropagation,
};
const char* const kStepNames[] = {
  "reset signals", "prctl(PR_SET_PDEATHSIG)", "parent exited", "setns", "setpgid",
  "tcsetpgrp", "chdir", "raise capabilities", "clear capabilities", "dup2",
  "close_range", "execve", "fork into the pid namespace", "setsid", "ioctl(TIOCSCTTY)", "read the exec plan",
  "mount",
};
constexpr int kStepCount = sizeof kStepNames / sizeof kStepNames[0];
// A report of this step says "set up, about to exec" (spawnGated).
constexpr int kStepReady = -1;

struct ChildReport {
  int step;
  int err;
};

struct Plan {
  std::string file;
  std::vector<std::string> argv, envp;
  std::vector<char*> argvp, envpp;
  std::string cwd;
  bool has_cwd = false;
  uint64_t clone_flags = 0;
  std::vector<int> fds;  // index = fd in the child, value = fd here or -1
  std::vector<std::pair<int, int>> setns;  // (fd, nstype), in order
  bool raise_ambient = false;
  bool clear_caps = false;
  int pdeathsig = 0;
  sigset_t ignore;  // set to SIG_IGN after the reset
  bool new_pgrp = false;
  int fg_tty = -1;
  // A session of its own whose controlling terminal is this fd of the new
  // process (after the fds are in place): s.spawn({ tty: true }).
  int ctty = -1;
  int64_t nofile_soft = -1;
  pid_t parent_pid = 0;
  // Index in envp of "LISTEN_PID=" plus room for the digits, filled in with
  // the new process's own pid (as it sees it) right before execve.
  int listen_pid_env = -1;
  // execvp-style search of file in these directories, done in the new
  // process (after setns, the mount namespace may differ from ours).
  bool has_search_path = false;
  std::string search_path;
  std::string exec_buf;
};

// What execve needs, as pointers: into the Plan's strings (spawn,
// execInPlace) or into the gated child's own mapping (spawnGated).
struct ExecArgs {
  const char* file = nullptr;
  char** argv = nullptr;
  char** envp = nullptr;
  const char* cwd = nullptr;     // nullptr: stay
  const char* search = nullptr;  // nullptr: file is a path
  char* buf = nullptr;           // room for search's longest dir + "/" + file
  int listen_pid_env = -1;
};

// Only pointer reads: callable in the cloned child.
ExecArgs ArgsOf(Plan& p) {
  ExecArgs a;
  a.file = p.file.c_str();
  a.argv = p.argvp.data();
  a.envp = p.envpp.data();
  a.cwd = p.has_cwd ? p.cwd.c_str() : nullptr;
  a.search = p.has_search_path ? p.search_path.c_str() : nullptr;
  a.buf = p.has_search_path ? &p.exec_buf[0] : nullptr;
  a.listen_pid_env = p.listen_pid_env;
  return a;
}

constexpr char kListenPid[] = "LISTEN_PID=";

std::vector<std::string> BytesArray(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(name) + " must be an array of strings or Buffers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(BytesValue(env, a.Get(i), name));
  return out;
}

// exec_fields false: spawnGated, whose program, argv, environment and cwd
// come later through the gate (ExecPayload).
Plan ReadPlan(Napi::Env env, Napi::Object o, bool exec_fields = true) {
  Plan p;
  if (exec_fields) {
    p.file = BytesValue(env, o.Get("file"), "file");
    p.argv = BytesArray(env, o.Get("argv"), "argv");
    p.envp = BytesArray(env, o.Get("envp"), "envp");
  }
  if (o.Get("listenPidEnv").ToBoolean()) {
    p.listen_pid_env = static_cast<int>(p.envp.size());
    p.envp.push_back(std::string(kListenPid) + std::string(24, '0'));
  }
  Napi::Value search = o.Get("searchPath");
  if (!search.IsUndefined() && !search.IsNull() && p.file.find('/') == std::string::npos) {
    p.has_search_path = true;
    p.search_path = BytesValue(env, search, "searchPath");
    p.exec_buf.assign(p.search_path.size() + p.file.size() + 3, '\0');
  }
  for (auto& s : p.argv) p.argvp.push_back(const_cast<char*>(s.c_str()));
  p.argvp.push_back(nullptr);
  for (auto& s : p.envp) p.envpp.push_back(const_cast<char*>(s.c_str()));
  p.envpp.push_back(nullptr);
  Napi::Value cwd = o.Get("cwd");
  if (!cwd.IsUndefined() && !cwd.IsNull()) {
    p.cwd = BytesValue(env, cwd, "cwd");
    p.has_cwd = true;
  }
  if (o.Get("cloneFlags").IsNumber())
    p.clone_flags = static_cast<uint64_t>(o.Get("cloneFlags").As<Napi::Number>().Int64Value());
  Napi::Value fds = o.Get("fds");
  if (fds.IsArray()) {
    Napi::Array a = fds.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) p.fds.push_back(a.Get(i).As<Napi::Number>().Int32Value());
  } else {
    p.fds = {0, 1, 2};
  }
  Napi::Value ns = o.Get("setns");
  if (ns.IsArray()) {
    Napi::Array a = ns.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Object e = a.Get(i).As<Napi::Object>();
      p.setns.emplace_back(e.Get("fd").As<Napi::Number>().Int32Value(), e.Get("nstype").As<Napi::Number>().Int32Value());
    }
  }
  p.raise_ambient = o.Get("raiseAmbientCaps").ToBoolean();
  p.clear_caps = o.Get("clearCaps").ToBoolean();
  if (o.Get("pdeathsig").IsNumber()) p.pdeathsig = o.Get("pdeathsig").As<Napi::Number>().Int32Value();
  sigemptyset(&p.ignore);
  Napi::Value ign = o.Get("ignoreSignals");
  if (ign.IsArray()) {
    Napi::Array a = ign.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      int sig = a.Get(i).As<Napi::Number>().Int32Value();
      if (sig > 0 && sig < NSIG && sig != SIGKILL && sig != SIGSTOP) sigaddset(&p.ignore, sig);
    }
  }
  p.new_pgrp = o.Get("newProcessGroup").ToBoolean();
  if (o.Get("nofileSoft").IsNumber()) p.nofile_soft = o.Get("nofileSoft").As<Napi::Number>().Int64Value();
  if (o.Get("foregroundTty").IsNumber()) p.fg_tty = o.Get("foregroundTty").As<Napi::Number>().Int32Value();
  if (o.Get("controllingTty").IsNumber()) p.ctty = o.Get("controllingTty").As<Napi::Number>().Int32Value();
  p.parent_pid = getpid();
  return p;
}

// --- the child side: raw syscalls only -------------------------------------

// Set by execInPlace: no one reads the report then; see Fail.
bool g_in_place = false;

[[noreturn]] void Fail(int errfd, int step, int err) {
  if (g_in_place) {
    // The process that would have read the report is this one: say it on
    // stderr and end as a shell would (127 not found, 126 not runnable).
    std::string msg = std::string("rootless: error: (child) ") + kStepNames[step] + ": " + ErrnoName(err) + "\n";
    ssize_t ignored = write(2, msg.data(), msg.size());
    (void)ignored;
    _exit(step == kStepExec ? (err == ENOENT ? 127 : 126) : 125);
  }
  ChildReport r{step, err};
  ssize_t ignored = write(errfd, &r, sizeof r);
  (void)ignored;
  _exit(127);
}

bool CapSets(__user_cap_data_struct data[2], int errfd, int step) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capget, &hdr, data) != 0) Fail(errfd, step, errno);
  return true;
}

void RaiseAmbient(int errfd) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  CapSets(data, errfd, kStepCapRaise);
  data[0].inheritable = data[0].permitted;
  data[1].inheritable = data[1].permitted;
  // A refusal here is not fatal: the child checks its capabilities after the
  // id maps are written and re-executes itself if it has none.
  if (syscall(SYS_capset, &hdr, data) != 0) return;
  for (int cap = 0; cap < 64; cap++) {
    bool held = (cap < 32 ? data[0].permitted >> cap : data[1].permitted >> (cap - 32)) & 1;
    if (!held) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0 && errno == EINVAL) break;
  }
}

void ClearCaps(int errfd) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    Fail(errfd, kStepCapClear, errno);
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  CapSets(data, errfd, kStepCapClear);
  data[0].inheritable = 0;
  data[1].inheritable = 0;
  if (syscall(SYS_capset, &hdr, data) != 0) Fail(errfd, kStepCapClear, errno);
}

void FormatPid(char* out, long pid) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + pid % 10);
    pid /= 10;
  } while (pid > 0 && n < 23);
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
}

// The process to forward signals to, in the waiting middle process below.
volatile pid_t g_forward_to = 0;

void ForwardSignal(int sig) {
  if (g_forward_to > 0) kill(g_forward_to, sig);
}

// setns(CLONE_NEWPID) moves only the caller's future children: fork once
// more. The middle process stays outside the namespace, forwards signals,
// and ends as its child did. Returns in the child only.
void ForkIntoPidns(const Plan& p, int errfd) {
  // The raw syscall: glibc's fork() would run atfork handlers, which may
  // take locks held by threads that do not exist here.
  long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) Fail(errfd, kStepForkPidns, errno);
  if (pid == 0) {
    if (p.pdeathsig > 0 && prctl(PR_SET_PDEATHSIG, p.pdeathsig, 0, 0, 0) != 0) Fail(errfd, kStepPdeathsig, errno);
    return;
  }
  // Nothing of the caller's stays open here, not even the error pipe: its
  // EOF tells the caller that the child reached execve.
  if (syscall(SYS_close_range, 0, ~0U, 0) != 0)
    for (int fd = 0; fd < 1024; fd++) close(fd);
  g_forward_to = static_cast<pid_t>(pid);
  struct sigaction fwd {};
  fwd.sa_handler = ForwardSignal;
  fwd.sa_flags = SA_RESTART;
  sigfillset(&fwd.sa_mask);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGVTALRM, SIGXCPU,
                  SIGXFSZ, SIGPWR, SIGSYS, SIGURG, SIGIO, SIGTRAP, SIGABRT, SIGCONT, SIGTSTP, SIGPIPE})
    sigaction(sig, &fwd, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  siginfo_t si{};
  while (waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED) != 0)
    if (errno != EINTR) _exit(125);
  if (si.si_code == CLD_EXITED) _exit(si.si_status);
  // Killed: die of the same signal, without a core of node's memory.
  int sig = si.si_status;
  struct rlimit zero {};
  setrlimit(RLIMIT_CORE, &zero);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, nullptr);
  kill(getpid(), sig);
  _exit(128 + sig);
}

[[noreturn]] void Exec(const ExecArgs& a, int errfd) {
  if (a.listen_pid_env >= 0) FormatPid(a.envp[a.listen_pid_env] + sizeof kListenPid - 1, getpid());
  if (a.search == nullptr) {
    execve(a.file, a.argv, a.envp);
    Fail(errfd, kStepExec, errno);
  }
  // As execvp: the first directory that has it; EACCES only if no
  // directory had a runnable one.
  char* buf = a.buf;
  const char* dir = a.search;
  size_t flen = strlen(a.file);
  bool denied = false;
  for (;;) {
    const char* colon = strchr(dir, ':');
    size_t len = colon ? static_cast<size_t>(colon - dir) : strlen(dir);
    size_t pos = 0;
    if (len == 0) {
      buf[pos++] = '.';
    } else {
      memcpy(buf, dir, len);
      pos = len;
    }
    buf[pos++] = '/';
    memcpy(buf + pos, a.file, flen + 1);
    execve(buf, a.argv, a.envp);
    if (errno == EACCES) denied = true;
    else if (errno != ENOENT && errno != ENOTDIR) Fail(errfd, kStepExec, errno);
    if (!colon) break;
    dir = colon + 1;
  }
  Fail(errfd, kStepExec, denied ? EACCES : ENOENT);
}

// The first steps of every new process: signal dispositions, PDEATHSIG.
void ChildStart(const Plan& p, int errfd) {
  // Handlers installed by node make no sense after execve, and node's own
  // ignores (SIGPIPE) would be inherited: reset them all, then ignore what
  // the caller of rootless had ignored (nohup), as an execve would keep.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    // fails harmlessly for glibc-reserved signals
    sigaction(sig, sigismember(&p.ignore, sig) == 1 ? &ign : &dfl, nullptr);
  }

  if (p.pdeathsig > 0) {
    if (prctl(PR_SET_PDEATHSIG, p.pdeathsig, 0, 0, 0) != 0) Fail(errfd, kStepPdeathsig, errno);
    // In a new pid namespace getppid() is 0; the caller checks liveness
    // another way (the protocol pipe's EOF).
    if (!(p.clone_flags & CLONE_NEWPID) && getppid() != p.parent_pid) Fail(errfd, kStepParentGone, ESRCH);
  }
}

// The rest, up to execve.
[[noreturn]] void ChildFinish(Plan& p, const ExecArgs& a, int errfd) {
  bool enter_pidns = false;
  for (auto& [fd, nstype] : p.setns) {
    if (syscall(SYS_setns, fd, nstype) != 0) Fail(errfd, kStepSetns, errno);
    if (nstype == CLONE_NEWPID) enter_pidns = true;
  }
  if (enter_pidns) ForkIntoPidns(p, errfd);

  if (p.ctty >= 0 && setsid() < 0) Fail(errfd, kStepSetsid, errno);
  if (p.new_pgrp && setpgid(0, 0) != 0) Fail(errfd, kStepSetpgid, errno);
  if (p.fg_tty >= 0) {
    // All signals are blocked here, so the kernel lets a background process
    // group take the terminal without sending SIGTTOU.
    pid_t pgrp = getpgrp();
    if (ioctl(p.fg_tty, TIOCSPGRP, &pgrp) != 0) Fail(errfd, kStepTcsetpgrp, errno);
  }

  if (a.cwd != nullptr && chdir(a.cwd) != 0) Fail(errfd, kStepChdir, errno);

  if (p.raise_ambient) RaiseAmbient(errfd);
  if (p.clear_caps) ClearCaps(errfd);

  // Move every source fd above the target range first, so that placing one
  // cannot clobber another; then put each in place (dup2 clears CLOEXEC).
  int n = static_cast<int>(p.fds.size());
  int lowest_free = n > 3 ? n : 3;
  int high_err = fcntl(errfd, F_DUPFD_CLOEXEC, lowest_free);
  if (high_err < 0) Fail(errfd, kStepDupFds, errno);
  errfd = high_err;
  int moved[64];
  if (n > 64) Fail(errfd, kStepDupFds, EMFILE);
  for (int i = 0; i < n; i++) {
    moved[i] = -1;
    if (p.fds[i] < 0) continue;
    moved[i] = fcntl(p.fds[i], F_DUPFD_CLOEXEC, lowest_free);
    if (moved[i] < 0) Fail(errfd, kStepDupFds, errno);
  }
  for (int i = 0; i < n; i++) {
    if (moved[i] >= 0) {
      if (dup2(moved[i], i) < 0) Fail(errfd, kStepDupFds, errno);
    } else {
      close(i);
    }
  }
  // The session leader's first terminal: its group is the foreground one.
  if (p.ctty >= 0 && ioctl(p.ctty, TIOCSCTTY, 0) != 0) Fail(errfd, kStepCtty, errno);

  // Everything from n up closes at execve; errfd stays open until then so
  // that an execve failure can still be reported.
  if (syscall(SYS_close_range, n, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    struct rlimit rl {};
    long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
    for (long fd = n; fd < max; fd++) fcntl((int)fd, F_SETFD, FD_CLOEXEC);
  }

  // node raised the soft fd limit to the hard one (the relay wants it);
  // the program gets the limit it was started with back: select(2) users
  // break on fds above 1023.
  if (p.nofile_soft > 0) {
    struct rlimit rl {};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && static_cast<rlim_t>(p.nofile_soft) < rl.rlim_cur) {
      rl.rlim_cur = static_cast<rlim_t>(p.nofile_soft);
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }

  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  Exec(a, errfd);
}

[[noreturn]] void ChildMain(Plan& p, int errfd) {
  ChildStart(p, errfd);
  ChildFinish(p, ArgsOf(p), errfd);
}


// --- the gated child (spawnGated): no node inside at all --------------------
//
// When nothing needs a process inside the namespaces once the target runs,
// the cloned process execs the target itself (issue #11): it waits on the
// gate for the exec plan, which the parent writes once the id maps are (the
// target's environment names the state dir, made after the clone), sets the
// root's propagation, reports "ready", and goes on as spawn's child does.
// Still no malloc or lock here: the plan goes into a fresh mapping.

constexpr uint32_t kPayloadMagic = 0x31505852;  // "RXP1"
constexpr uint32_t kHasCwd = 1, kHasSearch = 2;  // PayloadHeader.flags

struct PayloadHeader {
  uint32_t magic;
  uint32_t argc;
  uint32_t envc;
  int32_t listen_pid_env;
  uint32_t flags;
  uint32_t propagation;  // mount flags for "/", 0: none
  uint64_t body_len;     // then: file, cwd, search, argv..., envp..., each NUL-ended
};

bool ReadFull(int fd, void* to, size_t n) {
  char* p = static_cast<char*>(to);
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

[[noreturn]] void GatedChildMain(Plan& p, int gatefd, int errfd) {
  ChildStart(p, errfd);
  // Wait with signals unblocked: their dispositions are the default now, so
  // what the launcher forwards before the target runs (SIGTERM, SIGINT) ends
  // this process as it would have ended the target.
  sigset_t none;
  sigemptyset(&none);
  pollfd pfd{gatefd, POLLIN, 0};
  while (ppoll(&pfd, 1, nullptr, &none) < 0)
    if (errno != EINTR) Fail(errfd, kStepGate, errno);
  PayloadHeader h{};
  // EOF: the launcher gave up before the id maps; it says why.
  if (!ReadFull(gatefd, &h, sizeof h)) _exit(125);
  if (h.magic != kPayloadMagic || h.argc == 0 || h.argc > (1u << 24) || h.envc > (1u << 24) || h.body_len > (1ull << 32))
    Fail(errfd, kStepGate, EPROTO);
  size_t ptrs = (static_cast<size_t>(h.argc) + h.envc + 2) * sizeof(char*);
  size_t size = ptrs + 2 * static_cast<size_t>(h.body_len) + 8;
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) Fail(errfd, kStepGate, errno);
  char** vec = static_cast<char**>(mem);
  char* body = static_cast<char*>(mem) + ptrs;
  if (!ReadFull(gatefd, body, h.body_len)) _exit(125);
  close(gatefd);
  char* cur = body;
  char* end = body + h.body_len;
  auto next = [&]() -> char* {
    char* z = static_cast<char*>(memchr(cur, '\0', static_cast<size_t>(end - cur)));
    if (z == nullptr) Fail(errfd, kStepGate, EPROTO);
    char* s = cur;
    cur = z + 1;
    return s;
  };
  ExecArgs a;
  a.file = next();
  char* cwd = next();
  char* search = next();
  if (h.flags & kHasCwd) a.cwd = cwd;
  if (h.flags & kHasSearch) a.search = search;
  a.buf = body + h.body_len;  // longer than any dir + "/" + file
  a.argv = vec;
  for (uint32_t i = 0; i < h.argc; i++) vec[i] = next();
  vec[h.argc] = nullptr;
  a.envp = vec + h.argc + 1;
  for (uint32_t i = 0; i < h.envc; i++) a.envp[i] = next();
  a.envp[h.envc] = nullptr;
  if (h.listen_pid_env >= 0) {
    if (static_cast<uint32_t>(h.listen_pid_env) >= h.envc || strlen(a.envp[h.listen_pid_env]) < sizeof kListenPid + 20)
      Fail(errfd, kStepGate, EPROTO);
    a.listen_pid_env = h.listen_pid_env;
  }
  // The one mount step of the light path: --propagation on "/".
  if (h.propagation != 0 && mount(nullptr, "/", nullptr, h.propagation, nullptr) != 0)
    Fail(errfd, kStepPropagation, errno);
  ChildReport ready{kStepReady, 0};
  if (write(errfd, &ready, sizeof ready) != static_cast<ssize_t>(sizeof ready)) _exit(125);
  ChildFinish(p, a, errfd);
}

// --- the parent side --------------------------------------------------------

// The lean clone: CLONE_VM | CLONE_VFORK, as posix_spawn. No page tables
// are copied (node's ~45 MB would be, and every page it then writes would
// take a copy-on-write fault), and the calling thread sleeps until the
// child has exec'ed or exited. The child runs on a stack of its own and
// shares our memory and thread-local storage (errno), so it must touch
// nothing but the plan and its stack: ChildMain does only that. Not for
// new namespaces or setns: a process sharing its memory cannot join a user
// namespace (EINVAL), and the pid namespace's middle process never execs,
// which would keep us suspended.
constexpr size_t kLeanStack = 256 * 1024;
constexpr size_t kGuard = 4096;
char* g_lean_stack = nullptr;  // under WatchMutex: one lean child at a time is all vfork allows anyway

struct LeanArgs {
  Plan* plan;
  int errfd;
};

int LeanMain(void* arg) {
  auto* a = static_cast<LeanArgs*>(arg);
  ChildMain(*a->plan, a->errfd);
}

pid_t CloneLean(LeanArgs* args, int* pidfd) {
  if (g_lean_stack == nullptr) {
    void* mem = mmap(nullptr, kLeanStack + kGuard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) return -1;
    // A child that overran its stack faults here, not in our heap.
    mprotect(mem, kGuard, PROT_NONE);
    g_lean_stack = static_cast<char*>(mem);
  }
  return clone(LeanMain, g_lean_stack + kGuard + kLeanStack, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, args, pidfd);
}

pid_t CloneWithPidfd(uint64_t flags, int* pidfd) {
  clone_args args{};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && errno == ENOSYS) {
    // Kernels before 5.3: the raw clone syscall with a NULL stack behaves
    // like fork; on x86-64 the pidfd goes where parent_tid would.
    pid = syscall(SYS_clone, flags | CLONE_PIDFD | SIGCHLD, nullptr, pidfd, nullptr, nullptr);
  }
  return static_cast<pid_t>(pid);
}

// spawn(options, onExit) -> { pid, pidfd }
// Throws an Error with .code/.syscall/.step when the clone or any step
// before execve fails; execve's own ENOENT/EACCES carry step "execve".
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "spawn(options, onExit)");
  Plan plan = ReadPlan(env, info[0].As<Napi::Object>());
  Napi::Function on_exit = info[1].As<Napi::Function>();

  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) ThrowErrno(env, errno, "pipe2");

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);

  int pidfd = -1;
  pid_t pid;
  {
    std::lock_guard<std::mutex> lock(WatchMutex());
    LeanArgs lean{&plan, errpipe[1]};
    if (plan.clone_flags == 0 && plan.setns.empty())
      pid = CloneLean(&lean, &pidfd);  // returns once the child has exec'ed or exited
    else
      pid = CloneWithPidfd(plan.clone_flags, &pidfd);
    if (pid == 0) {
      close(errpipe[0]);
      ChildMain(plan, errpipe[1]);
    }
    int clone_err = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    close(errpipe[1]);
    if (pid < 0) {
      close(errpipe[0]);
      ThrowErrno(env, clone_err, "clone3");
    }

    ChildReport report{};
    ssize_t got;
    do {
      got = read(errpipe[0], &report, sizeof report);
    } while (got < 0 && errno == EINTR);
    close(errpipe[0]);
    if (got == static_cast<ssize_t>(sizeof report)) {
      // The child _exit'ed after reporting: reap it here, it is ours alone.
      siginfo_t si;
      while (waitid(P_PIDFD, pidfd, &si, WEXITED) != 0 && errno == EINTR) {
      }
      close(pidfd);
      std::string subject = report.step == kStepExec ? plan.file : report.step == kStepChdir ? plan.cwd : "";
      Napi::Object err = MakeErrnoError(env, report.err, kStepNames[report.step], subject);
      err.Set("step", kStepNames[report.step]);
      throw Napi::Error(env, err);
    }
    WatchExitLocked(env, pid, pidfd, on_exit);
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", pid);
  result.Set("pidfd", pidfd);
  return result;
}

// spawnGated(options, onExit) -> { pid, pidfd, gateFd, reportFd }: spawn's
// options without the program's (file, argv, envp, cwd, searchPath,
// listenPidEnv), which come through gateFd later (execPayload); setns and
// raiseAmbientCaps do not apply. reportFd (non-blocking, close-on-exec)
// carries 8-byte reports (decodeChildReport) and reaches EOF at execve.
Napi::Value SpawnGated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "spawnGated(options, onExit)");
  Plan plan = ReadPlan(env, info[0].As<Napi::Object>(), false);
  if (!plan.setns.empty() || plan.raise_ambient)
    throw Napi::TypeError::New(env, "spawnGated: setns and raiseAmbientCaps do not apply");
  Napi::Function on_exit = info[1].As<Napi::Function>();
  int gate[2], report[2];
  if (pipe2(gate, O_CLOEXEC) != 0) ThrowErrno(env, errno, "pipe2");
  if (pipe2(report, O_CLOEXEC) != 0) {
    int err = errno;
    close(gate[0]);
    close(gate[1]);
    ThrowErrno(env, err, "pipe2");
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  pid_t pid;
  {
    std::lock_guard<std::mutex> lock(WatchMutex());
    pid = CloneWithPidfd(plan.clone_flags, &pidfd);
    if (pid == 0) {
      close(gate[1]);
      close(report[0]);
      GatedChildMain(plan, gate[0], report[1]);
    }
    int clone_err = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    close(gate[0]);
    close(report[1]);
    if (pid < 0) {
      close(gate[1]);
      close(report[0]);
      ThrowErrno(env, clone_err, "clone3");
    }
    WatchExitLocked(env, pid, pidfd, on_exit);
  }
  fcntl(report[0], F_SETFL, O_NONBLOCK);
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", pid);
  result.Set("pidfd", pidfd);
  result.Set("gateFd", gate[1]);
  result.Set("reportFd", report[0]);
  return result;
}

// execPayload({file, argv, envp, cwd?, searchPath?, listenPidEnv?, rootPropagation?}) -> Buffer
// What spawnGated's child reads from its gate.
Napi::Value ExecPayload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "execPayload(options)");
  Plan p = ReadPlan(env, info[0].As<Napi::Object>());
  if (p.argv.empty()) throw Napi::TypeError::New(env, "argv must not be empty");
  Napi::Object o = info[0].As<Napi::Object>();
  PayloadHeader h{};
  h.magic = kPayloadMagic;
  h.argc = static_cast<uint32_t>(p.argv.size());
  h.envc = static_cast<uint32_t>(p.envp.size());
  h.listen_pid_env = p.listen_pid_env;
  h.flags = (p.has_cwd ? kHasCwd : 0u) | (p.has_search_path ? kHasSearch : 0u);
  if (o.Get("rootPropagation").IsNumber()) h.propagation = o.Get("rootPropagation").As<Napi::Number>().Uint32Value();
  std::string body;
  auto add = [&](const std::string& s) { body.append(s).push_back('\0'); };
  add(p.file);
  add(p.cwd);
  add(p.search_path);
  for (auto& s : p.argv) add(s);
  for (auto& s : p.envp) add(s);
  h.body_len = body.size();
  Napi::Buffer<char> out = Napi::Buffer<char>::New(env, sizeof h + body.size());
  memcpy(out.Data(), &h, sizeof h);
  memcpy(out.Data() + sizeof h, body.data(), body.size());
  return out;
}

// decodeChildReport(bytes) -> { ready: true } | { step, code, errno }: one
// 8-byte report of spawnGated's child.
Napi::Value DecodeChildReport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer() || info[0].As<Napi::Buffer<char>>().Length() != sizeof(ChildReport))
    throw Napi::TypeError::New(env, "decodeChildReport(an 8-byte Buffer)");
  ChildReport r{};
  memcpy(&r, info[0].As<Napi::Buffer<char>>().Data(), sizeof r);
  Napi::Object o = Napi::Object::New(env);
  if (r.step == kStepReady) {
    o.Set("ready", true);
    return o;
  }
  o.Set("ready", false);
  o.Set("step", r.step >= 0 && r.step < kStepCount ? kStepNames[r.step] : "unknown step");
  o.Set("code", ErrnoName(r.err));
  o.Set("errno", r.err);
  return o;
}

// execInPlace(options): what spawn() does in the new process, done in this
// one, which becomes the program (the child, when nothing needs it inside
// the namespaces after the target starts). Options as spawn's, without
// cloneFlags, setns or pdeathsig (the kernel keeps this process's across
// execve). Throws only for bad arguments; a failing step after the point of
// no return ends the process (see Fail).
Napi::Value ExecInPlace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "execInPlace(options)");
  Plan plan = ReadPlan(env, info[0].As<Napi::Object>());
  if (plan.clone_flags != 0 || !plan.setns.empty() || plan.pdeathsig != 0)
    throw Napi::TypeError::New(env, "execInPlace: cloneFlags, setns and pdeathsig do not apply");
  // ChildMain wants an fd to report on; it closes at execve.
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) ThrowErrno(env, errno, "pipe2");
  g_in_place = true;
  // As in spawn: nothing of node's runs on this thread from here; a signal
  // that reaches another thread meets the default action once ChildMain has
  // reset the dispositions.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);
  ChildMain(plan, errpipe[1]);
}

}  // namespace

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("execInPlace", Napi::Function::New(env, ExecInPlace, "execInPlace"));
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("spawnGated", Napi::Function::New(env, SpawnGated, "spawnGated"));
  exports.Set("execPayload", Napi::Function::New(env, ExecPayload, "execPayload"));
  exports.Set("decodeChildReport", Napi::Function::New(env, DecodeChildReport, "decodeChildReport"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("CLONE_NEWUSER", CLONE_NEWUSER);
  c.Set("CLONE_NEWNS", CLONE_NEWNS);
  c.Set("CLONE_NEWNET", CLONE_NEWNET);
  c.Set("CLONE_NEWPID", CLONE_NEWPID);
  c.Set("CLONE_NEWUTS", CLONE_NEWUTS);
  c.Set("CLONE_NEWIPC", CLONE_NEWIPC);
  c.Set("CLONE_NEWCGROUP", CLONE_NEWCGROUP);
  exports.Set("cloneFlags", c);
}

}  // namespace rootless
