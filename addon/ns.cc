// Native parts of the isolation area (declared in src/sys/native.ts): detached
// mount trees for copy-up and for keeping /sys/fs/cgroup across a fresh
// sysfs, killing what is left in a session's user namespace, and the
// state-dir guard that cleans up after a SIGKILLed launcher.
#include "common.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace rootless {
namespace {

// openTree(path) -> fd of a detached copy of the mount tree at path
// (open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)). Unlike a bind through
// /proc/self/fd/N, it keeps referring to the original after something is
// mounted on top of path.
Napi::Value OpenTree(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  long fd = syscall(SYS_open_tree, AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (fd < 0) ThrowErrno(info.Env(), errno, "open_tree", path);
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

// moveMount(fd, target): attach a detached tree from openTree at target.
Napi::Value MoveMount(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  std::string target = ArgString(info, 1, "target");
  if (syscall(SYS_move_mount, fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    ThrowErrno(info.Env(), errno, "move_mount", target);
  return info.Env().Undefined();
}

// linkEntries(dir, hidden) -> count: for each entry of dir/hidden, a symlink
// dir/<name> -> hidden/<name> (relative), or to the entry's own target when
// it is a symlink itself. The copy-up of /etc makes ~150 of them on every
// start: one call instead of two syscalls' worth of JS each.
Napi::Value LinkEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = ArgString(info, 0, "dir");
  std::string hidden = ArgString(info, 1, "hidden");
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) ThrowErrno(env, errno, "open", dir);
  int hfd = openat(dfd, hidden.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (hfd < 0) {
    int err = errno;
    close(dfd);
    ThrowErrno(env, err, "open", dir + "/" + hidden);
  }
  DIR* d = fdopendir(hfd);
  if (d == nullptr) {
    int err = errno;
    close(hfd);
    close(dfd);
    ThrowErrno(env, err, "fdopendir", dir + "/" + hidden);
  }
  int count = 0;
  std::string target;
  char own[4096];
  for (;;) {
    errno = 0;
    dirent* e = readdir(d);
    if (e == nullptr) break;
    const char* name = e->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    bool link = e->d_type == DT_LNK;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      link = fstatat(hfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
    }
    const char* to;
    if (link) {
      ssize_t n = readlinkat(hfd, name, own, sizeof own - 1);
      if (n < 0) {
        int err = errno;
        closedir(d);
        close(dfd);
        ThrowErrno(env, err, "readlink", dir + "/" + hidden + "/" + name);
      }
      own[n] = '\0';
      to = own;
    } else {
      target = hidden + "/" + name;
      to = target.c_str();
    }
    if (symlinkat(to, dfd, name) != 0) {
      int err = errno;
      closedir(d);
      close(dfd);
      ThrowErrno(env, err, "symlink", dir + "/" + name);
    }
    count++;
  }
  int err = errno;
  closedir(d);
  close(dfd);
  if (err != 0) ThrowErrno(env, err, "readdir", dir + "/" + hidden);
  return Napi::Number::New(env, count);
}

// --- the state-dir guard ----------------------------------------------------
//
// A SIGKILLed launcher cannot remove its state dir, and its child dies with
// it (PDEATHSIG). The guard is a process that shares the launcher's memory
// (CLONE_VM: no page tables copied, no exec, a few tens of microseconds),
// sleeps on the launcher's pidfd, and once the launcher is gone removes the
// session's files if their lock is free and still the session's own. A
// launcher that ends normally kills it first.
//
// While the launcher lives, the guard shares its thread-local storage too
// (no CLONE_SETTLS), so it must never touch errno: it makes its system calls
// without libc below. After the launcher's death nothing else uses that
// memory.

#if defined(__x86_64__)
inline long Sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
inline long Sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  register long x8 asm("x8") = n;
  register long x0 asm("x0") = a;
  register long x1 asm("x1") = b;
  register long x2 asm("x2") = c;
  register long x3 asm("x3") = d;
  register long x4 asm("x4") = e;
  asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory", "cc");
  return x0;
}
#endif
#if defined(__x86_64__) || defined(__aarch64__)
#define ROOTLESS_HAVE_GUARD 1
#endif

#ifdef ROOTLESS_HAVE_GUARD
struct Dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

// Whether the user namespace open at fd is (dev, ino) or one nested in it.
// Closes fd.
bool InNamespace(int fd, dev_t dev, ino_t ino) {
  for (int depth = 0; depth < 40 && fd >= 0; depth++) {
    struct stat st {};
    if (Sys(SYS_fstat, fd, reinterpret_cast<long>(&st)) != 0) break;
    if (st.st_dev == dev && st.st_ino == ino) {
      Sys(SYS_close, fd);
      return true;
    }
    // The owning namespace; EPERM at the initial one.
    int parent = static_cast<int>(Sys(SYS_ioctl, fd, NS_GET_PARENT));
    Sys(SYS_close, fd);
    fd = parent;
  }
  if (fd >= 0) Sys(SYS_close, fd);
  return false;
}

// SIGKILLs every process (but us) whose user namespace is the one open at
// userns_fd or nested in it, scanning /proc (open at proc_fd) until a pass
// finds no new one: what forks meanwhile is caught by the next pass (killed
// ones stay listed until reaped, hence the memory of them). Raw system
// calls only: the guard runs it too. Returns how many were signalled.
int KillNamespaceMembers(int proc_fd, int userns_fd) {
  struct stat ns {};
  if (Sys(SYS_fstat, userns_fd, reinterpret_cast<long>(&ns)) != 0) return 0;
  long self = Sys(SYS_getpid);
  int total = 0;
  constexpr int kMaxSeen = 2048;
  int seen[kMaxSeen];
  alignas(8) char buf[4096];
  for (int pass = 0; pass < 50; pass++) {
    int killed = 0;
    Sys(SYS_lseek, proc_fd, 0, SEEK_SET);
    for (;;) {
      long n = Sys(SYS_getdents64, proc_fd, reinterpret_cast<long>(buf), sizeof buf);
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        Dirent64* d = reinterpret_cast<Dirent64*>(buf + off);
        off += d->d_reclen;
        long pid = 0;
        const char* c = d->d_name;
        for (; *c >= '0' && *c <= '9'; c++) pid = pid * 10 + (*c - '0');
        if (*c != '\0' || pid <= 0 || pid == self) continue;
        char path[40];
        size_t len = strlen(d->d_name);
        if (len > 20) continue;
        memcpy(path, d->d_name, len);
        memcpy(path + len, "/ns/user", 9);
        int fd = static_cast<int>(Sys(SYS_openat, proc_fd, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC));
        if (fd < 0) continue;
        if (!InNamespace(fd, ns.st_dev, ns.st_ino) || Sys(SYS_kill, pid, SIGKILL) != 0) continue;
        bool again = false;
        for (int i = 0; i < total && i < kMaxSeen; i++) again = again || seen[i] == pid;
        if (again) continue;
        if (total < kMaxSeen) seen[total] = static_cast<int>(pid);
        total++;
        killed++;
      }
    }
    if (killed == 0) break;
  }
  return total;
}
#endif

// killNamespaceMembers(usernsFd) -> how many processes were SIGKILLed.
Napi::Value KillNamespaceMembersJs(const Napi::CallbackInfo& info) {
  int userns_fd = ArgInt(info, 0, "usernsFd");
#ifdef ROOTLESS_HAVE_GUARD
  int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc_fd < 0) ThrowErrno(info.Env(), errno, "open", "/proc");
  int n = KillNamespaceMembers(proc_fd, userns_fd);
  close(proc_fd);
  return Napi::Number::New(info.Env(), n);
#else
  (void)userns_fd;
  ThrowErrno(info.Env(), ENOSYS, "killNamespaceMembers");
#endif
}

constexpr size_t kGuardStack = 64 * 1024;
constexpr size_t kGuardData = 16 * 1024;

// Lives in its own mapping, never freed: the guard reads it after the
// launcher is gone.
struct GuardData {
  int parent_pidfd, dir_fd, lock_fd, base_fd, proc_fd, userns_fd, grand_fd;
  dev_t lock_dev;
  ino_t lock_ino;
  bool remove_dir;
  bool remove_base;  // the directory's parent too, when empty (named sessions)
  char dir_name[256];
  char base_name[256];
  // NUL-separated file names, ended by an empty name.
  char names[kGuardData - 512];
};

#ifdef ROOTLESS_HAVE_GUARD
int GuardMain(void* arg) {
  GuardData* g = static_cast<GuardData*>(arg);
  uint64_t all = ~0ULL;
  Sys(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&all), 0, sizeof all);
  // Out of the launcher's session and process group: no terminal signals.
  Sys(SYS_setsid);
  // Its command line is the launcher's (same memory); its name says what it is.
  Sys(SYS_prctl, PR_SET_NAME, reinterpret_cast<long>("rootless-guard"));
  // Keep only our seven descriptors, at 0..6 (the user namespace's at 5 pins
  // it: its inode cannot be reused by another namespace meanwhile).
  int src[7] = {g->parent_pidfd, g->dir_fd, g->lock_fd, g->base_fd, g->proc_fd, g->userns_fd, g->grand_fd};
  int high[7];
  for (int i = 0; i < 7; i++) high[i] = src[i] < 0 ? -1 : static_cast<int>(Sys(SYS_fcntl, src[i], F_DUPFD, 100));
  for (int i = 0; i < 7; i++)
    if (high[i] >= 0) Sys(SYS_dup3, high[i], i, 0);
  if (Sys(SYS_close_range, 7, ~0U, 0) != 0) {
    for (int fd = 7; fd < 4096; fd++) Sys(SYS_close, fd);
  }

  // `kill $(pgrep -nf 'rootless run')` finds the guard (it was started
  // last and shows the launcher's command line): what a user sends it goes
  // on to the launcher, which forwards it to the target as usual. The
  // signals stay blocked; a signalfd (fd 7) reads them.
  uint64_t relayed = 0;
  for (int s : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM}) relayed |= 1ULL << (s - 1);
  long sfd = Sys(SYS_signalfd4, -1, reinterpret_cast<long>(&relayed), sizeof relayed, SFD_CLOEXEC);
  pollfd p[2] = {{0, POLLIN, 0}, {static_cast<int>(sfd), POLLIN, 0}};
  for (;;) {
    long n = Sys(SYS_ppoll, reinterpret_cast<long>(p), sfd >= 0 ? 2 : 1, 0, 0, 8);
    if (n > 0 && p[0].revents != 0) break;
    if (n > 0 && sfd >= 0 && (p[1].revents & POLLIN) != 0) {
      signalfd_siginfo si{};
      if (Sys(SYS_read, sfd, reinterpret_cast<long>(&si), sizeof si) == sizeof si)
        Sys(SYS_pidfd_send_signal, 0, si.ssi_signo, 0, 0);
    }
  }
  // The launcher is gone: first what is left of its session (the target's
  // orphans, which a pid namespace would have taken along; slirp4netns).
  if (g->userns_fd >= 0) KillNamespaceMembers(4, 5);
  // A --state-dir of the user's keeps its files (the next session there cleans them).
  if (!g->remove_dir) Sys(SYS_exit_group, 0);
  // A lock held by someone else, or a lock file that is no longer ours,
  // means another session owns the directory now.
  if (Sys(SYS_flock, 2, LOCK_EX | LOCK_NB) != 0) Sys(SYS_exit_group, 0);
  struct stat st {};
  if (Sys(SYS_newfstatat, 1, reinterpret_cast<long>("lock"), reinterpret_cast<long>(&st), AT_SYMLINK_NOFOLLOW) != 0 ||
      st.st_dev != g->lock_dev || st.st_ino != g->lock_ino)
    Sys(SYS_exit_group, 0);
  for (const char* n = g->names; *n != '\0'; n += strlen(n) + 1) Sys(SYS_unlinkat, 1, reinterpret_cast<long>(n), 0);
  Sys(SYS_unlinkat, 1, reinterpret_cast<long>("lock"), 0);
  if (g->remove_dir) Sys(SYS_unlinkat, 3, reinterpret_cast<long>(g->dir_name), AT_REMOVEDIR);
  // $XDG_RUNTIME_DIR/rootless of named sessions, as a normal end does: only
  // when empty (ENOTEMPTY while other sessions live).
  if (g->remove_base && g->grand_fd >= 0) Sys(SYS_unlinkat, 6, reinterpret_cast<long>(g->base_name), AT_REMOVEDIR);
  Sys(SYS_exit_group, 0);
  return 0;
}
#endif

// startStateDirGuard(dir, names, removeDir, usernsFd, removeBase) -> { pid, pidfd }
Napi::Value StartStateDirGuard(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int userns_fd = info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : -1;
#ifndef ROOTLESS_HAVE_GUARD
  ThrowErrno(env, ENOSYS, "clone", "state dir guard (not built for this architecture)");
#else
  std::string dir = ArgString(info, 0, "dir");
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "names must be an array of strings");
  Napi::Array names = info[1].As<Napi::Array>();
  bool remove_dir = info[2].ToBoolean();
  size_t slash = dir.find_last_of('/');
  if (dir.empty() || dir[0] != '/' || slash == std::string::npos || slash + 1 >= dir.size())
    throw Napi::TypeError::New(env, "dir must be an absolute path below /");
  std::string base = slash == 0 ? "/" : dir.substr(0, slash);
  std::string leaf = dir.substr(slash + 1);
  if (leaf.size() >= sizeof(GuardData::dir_name)) throw Napi::TypeError::New(env, "dir name too long");
  bool remove_base = info[4].ToBoolean() && remove_dir;
  size_t slash2 = base.find_last_of('/');
  if (base == "/" || slash2 == std::string::npos) remove_base = false;
  std::string grand = remove_base ? (slash2 == 0 ? "/" : base.substr(0, slash2)) : "";
  std::string base_leaf = remove_base ? base.substr(slash2 + 1) : "";
  if (base_leaf.size() >= sizeof(GuardData::base_name)) remove_base = false;

  void* mem = mmap(nullptr, kGuardStack + kGuardData, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  GuardData* g = reinterpret_cast<GuardData*>(static_cast<char*>(mem) + kGuardStack);
  size_t used = 0;
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string n = names.Get(i).As<Napi::String>().Utf8Value();
    if (n.empty() || n.find('/') != std::string::npos || used + n.size() + 2 > sizeof g->names) continue;
    memcpy(g->names + used, n.c_str(), n.size() + 1);
    used += n.size() + 1;
  }
  g->names[used] = '\0';
  memcpy(g->dir_name, leaf.c_str(), leaf.size() + 1);
  g->remove_dir = remove_dir;
  g->remove_base = remove_base;
  if (remove_base) memcpy(g->base_name, base_leaf.c_str(), base_leaf.size() + 1);

  int fds[6] = {-1, -1, -1, -1, -1, -1};
  auto fail = [&](const char* call, const std::string& subject) {
    int err = errno;
    for (int fd : fds)
      if (fd >= 0) close(fd);
    munmap(mem, kGuardStack + kGuardData);
    ThrowErrno(env, err, call, subject);
  };
  fds[0] = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
  if (fds[0] < 0) fail("pidfd_open", "");
  fds[1] = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fds[1] < 0) fail("open", dir);
  fds[2] = openat(fds[1], "lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fds[2] < 0) fail("open", dir + "/lock");
  fds[3] = open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fds[3] < 0) fail("open", base);
  struct stat st {};
  if (fstat(fds[2], &st) != 0) fail("fstat", dir + "/lock");
  fds[4] = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fds[4] < 0) fail("open", "/proc");
  if (remove_base) {
    fds[5] = open(grand.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fds[5] < 0) fail("open", grand);
  }
  g->parent_pidfd = fds[0];
  g->dir_fd = fds[1];
  g->lock_fd = fds[2];
  g->base_fd = fds[3];
  g->proc_fd = fds[4];
  g->userns_fd = userns_fd;
  g->grand_fd = fds[5];
  g->lock_dev = st.st_dev;
  g->lock_ino = st.st_ino;

  int pidfd = -1;
  // No exit signal: nothing of node's is disturbed; stop() reaps it.
  int pid = clone(GuardMain, static_cast<char*>(mem) + kGuardStack, CLONE_VM | CLONE_PIDFD, g, &pidfd);
  int err = errno;
  for (int fd : fds) close(fd);
  if (pid < 0) {
    munmap(mem, kGuardStack + kGuardData);
    ThrowErrno(env, err, "clone", "state dir guard");
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", pid);
  r.Set("pidfd", pidfd);
  return r;
#endif
}

// stopStateDirGuard(pidfd): kill and reap it, close the pidfd.
Napi::Value StopStateDirGuard(const Napi::CallbackInfo& info) {
  int pidfd = ArgInt(info, 0, "pidfd");
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  siginfo_t si{};
  while (waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &si, WEXITED | __WALL) != 0 && errno == EINTR) {
  }
  close(pidfd);
  return info.Env().Undefined();
}

}  // namespace

void InitNs(Napi::Env env, Napi::Object exports) {
  exports.Set("openTree", Napi::Function::New(env, OpenTree, "openTree"));
  exports.Set("moveMount", Napi::Function::New(env, MoveMount, "moveMount"));
  exports.Set("linkEntries", Napi::Function::New(env, LinkEntries, "linkEntries"));
  exports.Set("killNamespaceMembers", Napi::Function::New(env, KillNamespaceMembersJs, "killNamespaceMembers"));
  exports.Set("startStateDirGuard", Napi::Function::New(env, StartStateDirGuard, "startStateDirGuard"));
  exports.Set("stopStateDirGuard", Napi::Function::New(env, StopStateDirGuard, "stopStateDirGuard"));
}

}  // namespace rootless
