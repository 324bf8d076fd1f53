// A relay worker's thread: its epoll loop, the commands JavaScript posts
// (add, remove, stop), the tick that expires UDP flows, and the teardown.
#include "relay.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

namespace rootless {
namespace port {
namespace {

// A command the worker will never run (its loop has ended): its fd is
// closed, its caller not left waiting.
void Abandon(Command& c) {
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
  if (c.done) c.done->Done();
}

}  // namespace

void InboxEnd::OnEvent(uint32_t) {
  uint64_t v;
  while (read(w->inbox, &v, sizeof v) > 0) {
  }
  w->HandleCommands();
}

void Worker::RemovePort(int portId) {
  auto it = ports.find(portId);
  if (it == ports.end()) return;
  Handler* h = it->second;
  ports.erase(it);
  if (auto* l = dynamic_cast<Listener*>(h)) {
    // Established connections are independent of the listener: they finish.
    close(l->fd);
    l->fd = -1;
    Bury(l);
  } else if (auto* u = dynamic_cast<UdpPort*>(h)) {
    // A flow answers through the port's socket: it ends with it.
    std::vector<Flow*> fs;
    for (auto& kv : u->flows) fs.push_back(kv.second);
    for (Flow* f : fs) {
      if (f->fd >= 0) {
        CloseFlow(f);
      } else {
        // Its socket is on the way: OnReply closes it.
        ForgetFlow(f);
        for (auto& kv : pending)
          if (kv.second.flow == f) kv.second.flow = nullptr;
      }
    }
    close(u->fd);
    u->fd = -1;
    Bury(u);
  }
}

void Worker::HandleCommands() {
  std::deque<Command> cmds;
  {
    std::lock_guard<std::mutex> lock(mu);
    cmds.swap(commands);
  }
  for (Command& c : cmds) {
    switch (c.kind) {
      case Command::AddTcp:
      case Command::AddUdp: {
        PortSocket* p = c.kind == Command::AddTcp ? static_cast<PortSocket*>(new Listener()) : new UdpPort();
        p->w = this;
        p->fd = c.fd;
        p->portId = c.portId;
        p->target = c.target;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = static_cast<Handler*>(p);
        epoll_ctl(epfd, EPOLL_CTL_ADD, p->fd, &ev);
        ports[c.portId] = p;
        break;
      }
      case Command::Remove:
        RemovePort(c.portId);
        break;
      case Command::Stop:
        running = false;
        break;
    }
    if (c.done) c.done->Done();
  }
}

void Worker::Tick(int64_t now) {
  for (auto& kv : ports) {
    if (auto* l = dynamic_cast<Listener*>(kv.second)) {
      if (l->paused) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = static_cast<Handler*>(l);
        epoll_ctl(epfd, EPOLL_CTL_MOD, l->fd, &ev);
        l->paused = false;
      }
    } else if (auto* u = dynamic_cast<UdpPort*>(kv.second)) {
      std::vector<Flow*> idle;
      for (auto& f : u->flows)
        if (f.second->fd >= 0 && now - f.second->lastActive >= engine->udpIdleMs) idle.push_back(f.second);
      for (Flow* f : idle) {
        CloseFlow(f);
        engine->stats.flowsExpired++;
      }
    }
  }
}

void Worker::Run() {
  epoll_event events[128];
  while (running) {
    int64_t now = NowMs();
    int64_t tickMs = engine->udpIdleMs < 1000 ? (engine->udpIdleMs > 10 ? engine->udpIdleMs / 2 : 5) : 1000;
    int timeout = ready.empty() ? static_cast<int>(tickMs) : 0;
    int n = 0;
    // During a bulk transfer, data comes back within microseconds: poll a
    // little before sleeping, since waking a sleeping thread (an IPI, a VM
    // exit) costs more than that. Short exchanges never spin.
    if (timeout != 0 && moved >= kBulkBytes) {
      for (int spin = 0; spin < kSpins && n == 0; spin++) n = epoll_wait(epfd, events, 128, 0);
    }
    moved = 0;
    if (n == 0) n = epoll_wait(epfd, events, 128, timeout);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      auto* h = static_cast<Handler*>(events[i].data.ptr);
      if (!h->dead) h->OnEvent(events[i].events);
    }
    // Connections that spent their budget: another round each.
    if (!ready.empty()) {
      std::vector<Conn*> again;
      again.swap(ready);
      for (Conn* c : again) {
        c->queued = false;
        Pump(c);
      }
    }
    now = NowMs();
    if (now - lastTick >= tickMs) {
      lastTick = now;
      Tick(now);
    }
    // A ready connection may be in the graveyard now: drop it from `ready`.
    if (!graveyard.empty()) {
      std::vector<Conn*> keep;
      for (Conn* c : ready)
        if (!c->dead) keep.push_back(c);
      ready.swap(keep);
      for (Handler* h : graveyard) delete h;
      graveyard.clear();
    }
  }
  std::deque<Command> left;
  {
    std::lock_guard<std::mutex> lock(mu);
    exited = true;
    left.swap(commands);
  }
  for (Command& c : left) Abandon(c);
}

void* WorkerMain(void* arg) {
  static_cast<Worker*>(arg)->Run();
  return nullptr;
}

void Completion::Done() {
  if (left.fetch_sub(1) != 1) return;
  Napi::Promise::Deferred* d = deferred;
  napi_status s = tsfn.NonBlockingCall([d](Napi::Env env, Napi::Function) {
    if (env != nullptr) d->Resolve(env.Undefined());
    delete d;
  });
  if (s != napi_ok) delete d;  // the environment is going away
  tsfn.Release();
}

void Post(Worker* w, Command c) {
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(w->mu);
    if (!w->exited) {
      w->commands.push_back(std::move(c));
      queued = true;
    }
  }
  if (!queued) {
    Abandon(c);
    return;
  }
  uint64_t one = 1;
  ssize_t ignored = write(w->inbox, &one, sizeof one);
  (void)ignored;
}

void FreeWorker(Worker* w) {
  // After the thread has ended: close everything it owned.
  for (auto& kv : w->ports) {
    if (auto* l = dynamic_cast<Listener*>(kv.second)) {
      close(l->fd);
      delete l;
    } else if (auto* u = dynamic_cast<UdpPort*>(kv.second)) {
      for (auto& f : u->flows) {
        if (f.second->fd >= 0) close(f.second->fd);
        f.second->dead = true;
        w->graveyard.push_back(f.second);
      }
      close(u->fd);
      delete u;
    }
  }
  // Connections still open (relaying, or waiting for the child): reset.
  for (Conn* c : w->conns) {
    for (int i = 0; i < 2; i++) {
      CloseReset(c->fd[i]);
      w->PutPipe(&c->dir[i].pipe, false);
    }
    c->dead = true;
    w->graveyard.push_back(c);
  }
  w->conns.clear();
  for (Handler* h : w->graveyard) delete h;
  for (Pipe& p : w->pipePool) {
    close(p.r);
    close(p.w);
  }
  close(w->epfd);
  close(w->inbox);
  close(w->ctl);
}


}  // namespace port
}  // namespace rootless
