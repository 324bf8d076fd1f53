// Plays systemd's side of NOTIFY_SOCKET for the tests: a unix datagram
// socket (a path or an abstract name) that reports every datagram with the
// sender's credentials. Node has no unix datagram sockets, so python3's
// socket module does the receiving. Like systemd, it closes descriptors
// that come with a message (that is what ends an sd_notify barrier).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TestUser } from './user.js';

const LISTENER = `
import array, json, os, socket, struct, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
print(json.dumps({'listening': addr}), flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(253 * 4))
    pid = None
    fds = []
    for level, kind, d in anc:
        if kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('3i', d[:12])[0]
        elif kind == socket.SCM_RIGHTS:
            a = array.array('i')
            a.frombytes(d[:len(d) - len(d) % 4])
            fds += list(a)
    for fd in fds:
        os.close(fd)
    print(json.dumps({'data': data.decode('utf-8', 'replace'), 'size': len(data), 'pid': pid, 'fds': len(fds), 'truncated': bool(flags & socket.MSG_TRUNC)}), flush=True)
`;

export interface NotifyDatagram {
  data: string;
  size: number;
  /** The sender's pid (SCM_CREDENTIALS), as the host sees it. */
  pid: number;
  fds: number;
  truncated: boolean;
}

export interface NotifyListener {
  readonly address: string;
  /** Every datagram so far, in order of arrival. */
  readonly received: NotifyDatagram[];
  /** Resolves once `count` datagrams have arrived. */
  waitFor(count: number): Promise<NotifyDatagram[]>;
  close(): Promise<void>;
}

/** address: "/path" or "@name". Runs as the test user, so the launcher may send to a path socket. */
export async function listenNotify(user: TestUser, address: string): Promise<NotifyListener> {
  const proc: ChildProcess = spawn('/usr/bin/python3', ['-u', '-c', LISTENER, address], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {}),
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const received: NotifyDatagram[] = [];
  const waiters: { count: number; resolve: (d: NotifyDatagram[]) => void; reject: (e: Error) => void }[] = [];
  let listening!: () => void;
  let ended: Error | undefined;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const exited = new Promise<void>((resolve) => proc.on('close', () => resolve()));
  const settle = (): void => {
    for (const w of waiters.splice(0)) {
      if (received.length >= w.count) w.resolve(received.slice());
      else if (ended) w.reject(ended);
      else waiters.push(w);
    }
  };
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const rec = JSON.parse(line) as { listening?: string } & NotifyDatagram;
    if (rec.listening !== undefined) listening();
    else received.push(rec);
    settle();
  });
  let startFailed: (e: Error) => void;
  const failedToStart = new Promise<never>((_, reject) => (startFailed = reject));
  void exited.then(() => {
    ended = new Error(`notify listener exited: ${stderr}; got ${JSON.stringify(received)}`);
    startFailed(ended);
    settle();
  });
  await Promise.race([ready, failedToStart]);
  return {
    address,
    received,
    waitFor(count) {
      return new Promise((resolve, reject) => {
        waiters.push({ count, resolve, reject });
        settle();
      });
    },
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
