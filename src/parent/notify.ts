// NOTIFY_SOCKET in every mode (docs/systemd.md). It may be an abstract
// socket ("@name"), and abstract unix sockets belong to a network
// namespace: a target in a new one cannot reach it. So when NOTIFY_SOCKET is set, the launcher (in the host's
// network namespace) binds $STATE/notify.sock, gives the target that path
// (the state dir is visible at the same path inside), and relays each
// datagram to the original socket with MAINPID=<launcher pid>.
//
// It relays in every mode, also where the target could reach the socket
// (host network, a path): the sender systemd then sees is always the
// launcher, the unit's main process, so Type=notify works with the default
// NotifyAccess=main, and a MAINPID= from inside (a pid of the target's
// namespace) cannot move the unit's main pid away from the launcher.
import { removeEntry } from '../sys/state-file.js';
import { join } from 'node:path';
import type { Logger } from '../sys/log.js';
import { notifyRelayStart, notifyRelayStop, type NotifyRelayed } from '../sys/native.js';
import type { StateDir } from '../sys/statedir.js';

export const NOTIFY_SOCKET_FILE = 'notify.sock';
/** systemd ignores notify datagrams larger than this (NOTIFY_BUFFER_MAX). */
export const SYSTEMD_NOTIFY_MAX = 4096;
/** sizeof(sockaddr_un.sun_path) minus the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export interface NotifyRelay {
  /** NOTIFY_SOCKET for the target. */
  readonly targetSocket: string;
  /** Relay what the target sent before it exited, then stop (the socket
   * file goes with the state dir's cleanup). */
  stop(): Promise<void>;
}

/** Starts the relay when NOTIFY_SOCKET asks for one; undefined leaves NOTIFY_SOCKET as it is. */
export function startNotifyRelay(env: NodeJS.ProcessEnv, state: StateDir, log: Logger): NotifyRelay | undefined {
  const manager = env.NOTIFY_SOCKET;
  if (manager === undefined || manager === '') return undefined;
  if (!manager.startsWith('/') && !manager.startsWith('@')) {
    // e.g. systemd 254's "vsock:CID:PORT", which no network namespace hides.
    log.warn({ NOTIFY_SOCKET: manager }, 'NOTIFY_SOCKET is neither a path nor an abstract socket: passed to the target as it is');
    return undefined;
  }
  const path = join(state.path, NOTIFY_SOCKET_FILE);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    log.warn({ path }, `the state dir's path is too long for a unix socket (over ${MAX_SOCKET_PATH} bytes): NOTIFY_SOCKET is passed to the target as it is, which reaches systemd only in the host's network namespace`);
    return undefined;
  }
  const warned = new Set<string>();
  const warnOnce = (key: string, fields: Record<string, unknown>, msg: string): void => {
    if (warned.has(key)) return;
    warned.add(key);
    log.warn(fields, msg);
  };
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const onRelayed = (r: NotifyRelayed): void => {
    if (r.stopped) {
      stopped();
      return;
    }
    if (log.enabled('debug')) log.debug({ message: r.message, fds: r.fds, senderPid: r.senderPid, ...(r.error ? { err: r.error } : {}) }, 'notify message relayed');
    if (r.error) warnOnce(`err:${r.error}`, { NOTIFY_SOCKET: manager, err: r.error }, 'cannot relay a notify message to NOTIFY_SOCKET');
    if (r.fdsTruncated) warnOnce('ctrunc', { fds: r.fds }, 'a notify message carried more file descriptors than one message can: the rest were dropped');
    const size = Buffer.byteLength(r.message);
    if (size > SYSTEMD_NOTIFY_MAX) warnOnce('size', { bytes: size }, `a notify message is larger than systemd accepts (${SYSTEMD_NOTIFY_MAX} bytes): relayed, but systemd ignores it`);
  };
  // bind() makes the socket there: nothing (no planted link) may be in the way.
  removeEntry(path);
  state.track(NOTIFY_SOCKET_FILE);
  const handle = notifyRelayStart(path, manager, { dropPrefix: 'MAINPID=', append: `MAINPID=${process.pid}`, limit: SYSTEMD_NOTIFY_MAX }, onRelayed);
  log.debug({ NOTIFY_SOCKET: manager, relay: path }, 'relaying NOTIFY_SOCKET');
  return {
    targetSocket: path,
    stop() {
      notifyRelayStop(handle); // idempotent: the handle is forgotten
      return done;
    },
  };
}
