// Terminals for s.spawn({ tty: true }) (src/session/process.ts). The
// caller opens the pty pair, hands the terminal end to the command as its
// fds 0, 1, 2 (the session agent makes it the controlling terminal), and
// keeps the master. Node cannot stream a pty master: libuv's tty handle
// does blocking writes on it (a command that does not read its input
// stalls the whole event loop), and a read after the last terminal fd
// closed fails with EIO instead of ending. So a thread here copies between
// the master and one end of a socketpair, both non-blocking; Node gets the
// other end, a plain socket: writes are the command's input, reads its
// output, and its EOF comes once the output is delivered.
#include "common.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <thread>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace rootless {
namespace {

void SetSize(Napi::Env env, int master, int cols, int rows) {
  if (cols <= 0 || rows <= 0 || cols > 65535 || rows > 65535)
    throw Napi::RangeError::New(env, "the terminal size must be 1..65535 columns and rows");
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  if (ioctl(master, TIOCSWINSZ, &ws) != 0) ThrowErrno(env, errno, "ioctl(TIOCSWINSZ)");
}

// ptyOpen(cols, rows) -> { master, terminal }: both close-on-exec; the
// terminal end opened through the master (TIOCGPTPEER), not by path.
Napi::Value PtyOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int cols = ArgInt(info, 0, "cols");
  int rows = ArgInt(info, 1, "rows");
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) ThrowErrno(env, errno, "posix_openpt");
  auto fail = [&](int err, const char* call) {
    close(master);
    ThrowErrno(env, err, call);
  };
  if (unlockpt(master) != 0) fail(errno, "unlockpt");
  int term = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (term < 0 && (errno == EINVAL || errno == ENOTTY)) {
    // Kernels before 4.13.
    char name[128];
    if (ptsname_r(master, name, sizeof name) != 0) fail(errno, "ptsname");
    term = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  }
  if (term < 0) fail(errno, "open terminal");
  try {
    SetSize(env, master, cols, rows);
  } catch (...) {
    close(term);
    close(master);
    throw;
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("master", master);
  r.Set("terminal", term);
  return r;
}

// ptyResize(master, cols, rows): the command's foreground group gets SIGWINCH.
Napi::Value PtyResize(const Napi::CallbackInfo& info) {
  SetSize(info.Env(), ArgInt(info, 0, "master"), ArgInt(info, 1, "cols"), ArgInt(info, 2, "rows"));
  return info.Env().Undefined();
}

// The copying thread. It owns its fds. It ends when the output is all
// delivered after the terminal side closed (the master reads EIO), or when
// Node's end of the socket is closed (POLLHUP, or a failed send): then its
// master closes, which hangs up the terminal (SIGHUP to the command), as a
// terminal window that is closed. The end of the input alone (Node's
// shutdown) ends nothing: on a terminal, EOF is a character (Ctrl-D).
void Relay(int master, int sock) {
  constexpr size_t kBuf = 64 * 1024;
  char* out = new char[kBuf];  // master -> socket
  char* in = new char[kBuf];   // socket -> master
  size_t out_len = 0, out_off = 0, in_len = 0, in_off = 0;
  bool master_done = false, input_done = false, sock_gone = false;
  while (!sock_gone && !(master_done && out_len == out_off)) {
    pollfd p[2] = {{master, 0, 0}, {sock, 0, 0}};
    if (!master_done && out_len == out_off) p[0].events |= POLLIN;
    if (!master_done && in_len > in_off) p[0].events |= POLLOUT;
    if (!input_done && in_len == in_off) p[1].events |= POLLIN;
    if (out_len > out_off) p[1].events |= POLLOUT;
    // The master is left out when we want nothing from it: once the terminal
    // is closed it is hung up and would wake us forever. The socket stays
    // in: its POLLHUP (Node closed it) is what we wait for then.
    if (p[0].events == 0) p[0].fd = -1;
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents != 0 && (p[0].events & POLLIN)) {
      ssize_t n = read(master, out, kBuf);
      if (n > 0) {
        out_len = static_cast<size_t>(n);
        out_off = 0;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        master_done = true;  // EIO: no one holds the terminal any more
      }
    }
    if (p[0].revents != 0 && (p[0].events & POLLOUT) && !master_done) {
      ssize_t n = write(master, in + in_off, in_len - in_off);
      if (n > 0) in_off += static_cast<size_t>(n);
      else if (n < 0 && errno != EAGAIN && errno != EINTR) in_off = in_len;  // nobody to read it
    }
    if (master_done) in_off = in_len;
    // Closed, not only shut down for writing: no one will read the output.
    if (p[1].revents & (POLLHUP | POLLERR)) sock_gone = true;
    if (!sock_gone && p[1].revents != 0 && (p[1].events & POLLIN)) {
      ssize_t n = read(sock, in, kBuf);
      if (n > 0) {
        in_len = static_cast<size_t>(n);
        in_off = 0;
      } else if (n == 0) {
        input_done = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        sock_gone = true;
      }
    }
    if (!sock_gone && p[1].revents != 0 && (p[1].events & POLLOUT)) {
      ssize_t n = send(sock, out + out_off, out_len - out_off, MSG_NOSIGNAL);
      if (n > 0) out_off += static_cast<size_t>(n);
      else if (n < 0 && errno != EAGAIN && errno != EINTR) sock_gone = true;
    }
  }
  delete[] out;
  delete[] in;
  shutdown(sock, SHUT_WR);
  close(sock);
  close(master);
}

// ptyRelay(master) -> fd: Node's end of a socket the thread relays to the
// master (a duplicate of it: the caller keeps its own for ptyResize).
Napi::Value PtyRelay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int master = ArgInt(info, 0, "master");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) ThrowErrno(env, errno, "socketpair");
  int m = fcntl(master, F_DUPFD_CLOEXEC, 3);
  if (m < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    ThrowErrno(env, e, "fcntl(F_DUPFD_CLOEXEC)");
  }
  // The master's file description is ours alone (posix_openpt), and so is sv[1].
  fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
  fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
  try {
    std::thread(Relay, m, sv[1]).detach();
  } catch (...) {
    close(m);
    close(sv[0]);
    close(sv[1]);
    ThrowErrno(env, EAGAIN, "pthread_create", "terminal relay");
  }
  return Napi::Number::New(env, sv[0]);
}

}  // namespace

void InitPty(Napi::Env env, Napi::Object exports) {
  exports.Set("ptyOpen", Napi::Function::New(env, PtyOpen, "ptyOpen"));
  exports.Set("ptyResize", Napi::Function::New(env, PtyResize, "ptyResize"));
  exports.Set("ptyRelay", Napi::Function::New(env, PtyRelay, "ptyRelay"));
}

}  // namespace rootless
