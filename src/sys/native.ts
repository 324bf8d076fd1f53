// The native contract: every export of the C++ addon (addon/*.cc) with its
// type, declared once (NativeAddon, as node-pty's native.d.ts), and the
// addon loaded once and held to it (NATIVE_EXPORTS: a name missing, extra or
// of another kind fails the load; test/unit/native-contract.test.ts).
// Native errors carry .code (errno name), .syscall and .subject; every
// function here rethrows them as SyscallError, so each caller gets the same
// typed error.
import { loadAddon, wrap } from './addon.js';

/** An argv element, environment entry or path: a Buffer as its bytes are,
 * a string as UTF-8 (Linux takes bytes, which need not be UTF-8). */
export type Bytes = string | Uint8Array;

export interface SpawnOptions {
  /** Absolute path of the program to execute (no PATH search here). */
  file: Bytes;
  argv: Bytes[];
  /** "NAME=value" entries (any bytes but NUL; as given, even without '='). */
  envp: Bytes[];
  cwd?: Bytes;
  /** CLONE_NEW* flags, see cloneFlags. 0 for a plain fork+exec. */
  cloneFlags?: number;
  /** Index = fd number in the new process, value = fd here, -1 = closed.
   * Everything else is closed. Default [0, 1, 2]. */
  fds?: number[];
  /** setns(fd, nstype) in this order before anything else (rootless exec).
   * Joining a pid namespace forks once more (only children enter it); the
   * returned pid is then a middle process that forwards signals and exits
   * as the command did. */
  setns?: { fd: number; nstype: number }[];
  /** Append LISTEN_PID=<the new process's pid, as it sees it> to envp
   * (systemd socket activation across a pid namespace). */
  listenPidEnv?: boolean;
  /** When `file` has no '/': search it in these ':'-separated directories
   * in the new process, after setns (execvp-style; ENOENT/EACCES as step "execve"). */
  searchPath?: Bytes;
  /** Raise every permitted capability into the inheritable and ambient sets,
   * so the program starts with them (DESIGN.md: the ambient fast path). */
  raiseAmbientCaps?: boolean;
  /** Clear the ambient and inheritable sets: the target gets capabilities
   * only from being uid 0 in the namespace. */
  clearCaps?: boolean;
  pdeathsig?: number;
  /** Signals set to SIG_IGN in the new process (every other disposition
   * is reset to SIG_DFL): what the caller of rootless had ignored. */
  ignoreSignals?: readonly number[];
  newProcessGroup?: boolean;
  /** Make the new process group the terminal's foreground group. */
  foregroundTty?: number;
  /** A new session (setsid) whose controlling terminal is this fd of the
   * new process (TIOCSCTTY, once the fds are in place). */
  controllingTty?: number;
  /** Lower the soft RLIMIT_NOFILE to this before execve (see nofile.ts). */
  nofileSoft?: number;
}

/** spawnGated: spawn's options but the program's, which come later through the gate. */
export type GatedSpawnOptions = Omit<SpawnOptions, 'file' | 'argv' | 'envp' | 'cwd' | 'searchPath' | 'listenPidEnv' | 'setns' | 'raiseAmbientCaps'>;

/** What spawnGated's child reads from its gate (execPayload). */
export interface ExecPayloadOptions extends Pick<SpawnOptions, 'file' | 'argv' | 'envp' | 'cwd' | 'searchPath' | 'listenPidEnv'> {
  /** Mount flags applied to "/" first (--propagation). */
  rootPropagation?: number;
}

/** One report of spawnGated's child: set up and about to exec, or the step that failed. */
export type ChildReport = { ready: true } | { ready: false; step: string; code: string; errno: number };

export interface ExitStatus {
  pid: number;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  /** Signal number, or null when it exited. */
  signal: number | null;
}

export interface Spawned {
  pid: number;
  pidfd: number;
}

export interface GatedSpawned extends Spawned {
  /** Write execPayload's bytes here (the child waits for them), then close it. */
  gateFd: number;
  /** Non-blocking: 8-byte reports (decodeChildReport), EOF once the child execs. */
  reportFd: number;
}

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

// ---- the builtin port driver's data plane (addon/port/) ----

export interface RelayOptions {
  /** UDP flows with no datagram either way for this long are closed. */
  udpIdleMs: number;
  /** F_SETPIPE_SZ for the splice pipes (0: the kernel's default). */
  pipeSize: number;
}

export interface RelayStats {
  connsAccepted: number;
  connsActive: number;
  /** The child's connect failed (nothing listening inside): host side reset. */
  connsRefused: number;
  connsAborted: number;
  flowsActive: number;
  flowsExpired: number;
  udpIn: number;
  udpOut: number;
  udpDropped: number;
  /** Connections and UDP flows made inside from the client's address, and not. */
  sourceKept: number;
  sourceNotKept: number;
  /** The child's source-address setup, once it has reported it. */
  source?: SourceStatus;
}

/** What the connector could set up to keep clients' addresses. */
export interface SourceStatus {
  on: boolean;
  ipv6: boolean;
  udp: boolean;
  /** Why (part of) it is off: the kernel refused a step. */
  warning?: string;
}

/** startConnector's sourceMode. */
export const SOURCE_OFF = 0;
export const SOURCE_KEEP = 1;
/** Loopback clients only, no routing set up: for tests outside a namespace. */
export const SOURCE_LOOPBACK_ONLY = 2;

/** What the connector asks rtnetlink for (addon/netlink.cc), for unit tests. */
export interface NetlinkSpec {
  family: 4 | 6;
  table: number;
  priority?: number;
  fwmark?: number;
  ipproto?: number;
  sport?: number;
  /** route: destination address (absent: default) and preferred source. */
  dst?: string;
  prefsrc?: string;
}

// ---- the NOTIFY_SOCKET relay (addon/notify.cc) ----

export interface NotifyRelayOptions {
  /** Lines starting with this are dropped from each datagram ("MAINPID="). */
  dropPrefix: string;
  /** Line appended to each datagram ("MAINPID=<pid>"). */
  append: string;
  /** The manager's size limit: the appended line goes alone rather than push a datagram over it. */
  limit: number;
}

export interface NotifyRelayed {
  /** The last event, after notifyRelayStop: everything queued was forwarded. */
  stopped?: boolean;
  /** The datagram as the sender wrote it. */
  message: string;
  /** Descriptors that came with it (SCM_RIGHTS), forwarded with it. */
  fds: number;
  /** The sender, as this process sees it (0 when unknown). */
  senderPid: number;
  /** errno name when forwarding failed. */
  error?: string;
  /** The kernel dropped descriptors that did not fit. */
  fdsTruncated?: boolean;
}

// ---- descriptors over unix sockets (addon/fdpass.cc) ----

export interface Received {
  /** Empty: the peer's EOF. */
  data: Buffer;
  /** Close-on-exec; the receiver owns them. */
  fds: number[];
}

/** Everything the addon exports, by the file that exports it. */
export interface NativeAddon {
  // addon/spawn.cc
  spawn(opts: SpawnOptions, onExit: (err: null, status: ExitStatus) => void): Spawned;
  execInPlace(opts: Omit<SpawnOptions, 'cloneFlags' | 'setns' | 'pdeathsig'>): never;
  spawnGated(opts: GatedSpawnOptions, onExit: (err: null, status: ExitStatus) => void): GatedSpawned;
  execPayload(opts: ExecPayloadOptions): Buffer;
  decodeChildReport(report: Buffer): ChildReport;
  cloneFlags: Record<
    'CLONE_NEWUSER' | 'CLONE_NEWNS' | 'CLONE_NEWNET' | 'CLONE_NEWPID' | 'CLONE_NEWUTS' | 'CLONE_NEWIPC' | 'CLONE_NEWCGROUP',
    number
  >;
  // addon/procwatch.cc
  startReaper(): void;
  // addon/sys.cc
  pipe2(): [number, number];
  close(fd: number): void;
  memfdCreate(name: string): number;
  flock(fd: number, exclusive: boolean, nonblocking: boolean): boolean;
  capget(): CapSets;
  setPdeathsig(sig: number): void;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, sig: number): boolean;
  pidfdExited(pidfd: number): boolean;
  execve(file: Bytes, argv: Bytes[], envp: Bytes[], keepFds?: number[]): never;
  reapChild(pid: number, block: boolean): boolean;
  pollFd(fd: number, wantWrite: boolean, timeoutMs: number): boolean;
  getpgrp(): number;
  tcgetpgrp(fd: number): number;
  tcsetpgrp(fd: number, pgrp: number): void;
  mountFlags: Record<
    | 'MS_RDONLY' | 'MS_NOSUID' | 'MS_NODEV' | 'MS_NOEXEC' | 'MS_REMOUNT' | 'MS_BIND' | 'MS_MOVE'
    | 'MS_REC' | 'MS_PRIVATE' | 'MS_SLAVE' | 'MS_SHARED' | 'MS_RELATIME',
    number
  >;
  // addon/net.cc
  setLinkUp(ifname: string): void;
  createDetachedNetns(path: string): void;
  mkfifo(path: string, mode: number): void;
  // addon/ns.cc
  openTree(path: string): number;
  moveMount(fd: number, target: string): void;
  linkEntries(dir: string, hidden: string): number;
  killNamespaceMembers(usernsFd: number): number;
  startStateDirGuard(dir: string, names: string[], removeDir: boolean, usernsFd?: number, removeBase?: boolean): { pid: number; pidfd: number };
  stopStateDirGuard(pidfd: number): void;
  // addon/notify.cc
  notifyRelayStart(listenPath: string, managerAddress: string, opts: NotifyRelayOptions, onRelayed: (r: NotifyRelayed) => void): number;
  notifyRelayStop(handle: number): void;
  // addon/fdpass.cc
  connectUnix(path: string): number;
  sendFds(sock: number, data: Buffer, fds: number[]): void;
  recvFds(sock: number, maxBytes: number, timeoutMs: number): Received | null;
  // addon/pty.cc
  ptyOpen(cols: number, rows: number): { master: number; terminal: number };
  ptyResize(master: number, cols: number, rows: number): void;
  ptyRelay(master: number): number;
  // addon/port/
  createRelay(controlFds: number[], opts: RelayOptions, onError: (msg: string) => void): number;
  relayAdd(relay: number, portId: number, proto: 'tcp' | 'udp', fds: number[], childIP: string, childPort: number): void;
  relayRemove(relay: number, portId: number): Promise<void>;
  relayStats(relay: number): RelayStats;
  relayStop(relay: number): void;
  listenSocket(proto: 'tcp' | 'udp', ip: string, port: number, v6only: -1 | 0 | 1, reusePort: boolean): number;
  socketpairSeqpacket(): [number, number];
  startConnector(controlFds: number[], connectTimeoutMs?: number, netnsPath?: string, sourceMode?: number): SourceStatus;
  encodeNetlink(kind: 'rule' | 'route', add: boolean, spec: NetlinkSpec): Buffer;
}

/** What `typeof` says of an export of this type. */
export type ExportKind<T> = T extends (...args: never[]) => unknown ? 'function' : T extends number ? 'number' : 'object';

/** The contract at run time: every export's name and kind. The compiler
 * holds it to NativeAddon (a name missing or extra, or of another kind, does
 * not compile); loadAddon holds the addon to it. */
export const NATIVE_EXPORTS: { readonly [K in keyof NativeAddon]: ExportKind<NativeAddon[K]> } = {
  spawn: 'function',
  execInPlace: 'function',
  spawnGated: 'function',
  execPayload: 'function',
  decodeChildReport: 'function',
  cloneFlags: 'object',
  startReaper: 'function',
  pipe2: 'function',
  close: 'function',
  memfdCreate: 'function',
  flock: 'function',
  capget: 'function',
  setPdeathsig: 'function',
  mount: 'function',
  pidfdOpen: 'function',
  pidfdSendSignal: 'function',
  pidfdExited: 'function',
  execve: 'function',
  reapChild: 'function',
  pollFd: 'function',
  getpgrp: 'function',
  tcgetpgrp: 'function',
  tcsetpgrp: 'function',
  mountFlags: 'object',
  setLinkUp: 'function',
  createDetachedNetns: 'function',
  mkfifo: 'function',
  openTree: 'function',
  moveMount: 'function',
  linkEntries: 'function',
  killNamespaceMembers: 'function',
  startStateDirGuard: 'function',
  stopStateDirGuard: 'function',
  notifyRelayStart: 'function',
  notifyRelayStop: 'function',
  connectUnix: 'function',
  sendFds: 'function',
  recvFds: 'function',
  ptyOpen: 'function',
  ptyResize: 'function',
  ptyRelay: 'function',
  createRelay: 'function',
  relayAdd: 'function',
  relayRemove: 'function',
  relayStats: 'function',
  relayStop: 'function',
  listenSocket: 'function',
  socketpairSeqpacket: 'function',
  startConnector: 'function',
  encodeNetlink: 'function',
};

const addon = loadAddon<NativeAddon>(NATIVE_EXPORTS);

// ---- processes, fds, mounts (addon/spawn.cc, procwatch.cc, sys.cc) ----

export const cloneFlags = addon.cloneFlags;
export const mountFlags = addon.mountFlags;

export const spawn = wrap(addon.spawn);
/** spawn()'s steps done in this process, which becomes the program: never returns (a failing step exits 127/126/125). */
export const execInPlace = wrap(addon.execInPlace) as (opts: Omit<SpawnOptions, 'cloneFlags' | 'setns' | 'pdeathsig'>) => never;
/** A process cloned into new namespaces that waits for its program (execPayload)
 * on gateFd, sets "/"'s propagation and execs it: no node boots inside (issue #11). */
export const spawnGated = wrap(addon.spawnGated);
export const execPayload = wrap(addon.execPayload);
export const decodeChildReport = wrap(addon.decodeChildReport);
/** Reap every child, orphans included (the child as PID 1 of a pid namespace). */
export const startReaper = wrap(addon.startReaper);
export const pipe2 = wrap(addon.pipe2);
export const close = wrap(addon.close);
export const memfdCreate = wrap(addon.memfdCreate);
export const flock = wrap(addon.flock);
export const capget = wrap(addon.capget);
export const setPdeathsig = wrap(addon.setPdeathsig);
export const mount = wrap(addon.mount);
export const pidfdOpen = wrap(addon.pidfdOpen);
export const pidfdSendSignal = wrap(addon.pidfdSendSignal);
export const pidfdExited = wrap(addon.pidfdExited);
export const execve = wrap(addon.execve) as (file: Bytes, argv: Bytes[], envp: Bytes[], keepFds?: number[]) => never;
export const reapChild = wrap(addon.reapChild);
export const pollFd = wrap(addon.pollFd);
export const getpgrp = wrap(addon.getpgrp);
export const tcgetpgrp = wrap(addon.tcgetpgrp);
export const tcsetpgrp = wrap(addon.tcsetpgrp);

/** Bit for capability number `cap` in a CapSets field. */
export function hasCap(set: bigint, cap: number): boolean {
  return ((set >> BigInt(cap)) & 1n) === 1n;
}

export const CAP_SYS_ADMIN = 21;

// ---- network (addon/net.cc) ----

/** Sets IFF_UP on an interface of the calling thread's network namespace. */
export const setLinkUp = wrap(addon.setLinkUp);
/** Creates a network namespace (lo up) bound on `path`, an existing file,
 * without moving this process into it. */
export const createDetachedNetns = wrap(addon.createDetachedNetns);
/** Creates a FIFO (named pipe). */
export const mkfifo = wrap(addon.mkfifo);

// ---- isolation (addon/ns.cc) ----

/** fd of a detached copy of the mount tree at `path` (open_tree, recursive). */
export const openTree = wrap(addon.openTree);
/** Attach a tree from openTree at `target`. */
export const moveMount = wrap(addon.moveMount);
/** In dir, a symlink for each entry of dir/hidden (into it, or to the entry's own target); returns how many. */
export const linkEntries = wrap(addon.linkEntries);
/** SIGKILL every process in the user namespace open at usernsFd, or nested in it; returns how many. */
export const killNamespaceMembers = wrap(addon.killNamespaceMembers);
/** Start the process that, if the launcher dies, kills what is left in the
 * session's user namespace and removes the state dir's files (see addon/ns.cc). */
export const startStateDirGuard = wrap(addon.startStateDirGuard);
/** Kill and reap the guard (the session ended normally). */
export const stopStateDirGuard = wrap(addon.stopStateDirGuard);

// ---- NOTIFY_SOCKET relay (addon/notify.cc) ----

/** Binds listenPath (a 0600 unix datagram socket) and starts forwarding what
 * arrives to managerAddress ("/path" or "@abstract"). Returns a handle. */
export const notifyRelayStart = wrap(addon.notifyRelayStart);
/** Stops the relay: it forwards what is queued, reports {stopped}, closes its sockets. */
export const notifyRelayStop = wrap(addon.notifyRelayStop);

// ---- descriptors over unix sockets (addon/fdpass.cc): Node's net module
// cannot pass them. For the session socket. ----

/** A blocking, close-on-exec stream connection to a unix socket. */
export const connectUnix = wrap(addon.connectUnix);
/** Sends all of data (blocking), the fds (at most 8) attached to its first byte. */
export const sendFds = wrap(addon.sendFds);
/** Waits up to timeoutMs for data, then takes what is there and the fds that came with it; null on timeout. */
export const recvFds = wrap(addon.recvFds);

// ---- terminals (addon/pty.cc): Node cannot stream a pty master. ----

/** A pty pair, both close-on-exec, at this size: the master and the terminal end. */
export const ptyOpen = wrap(addon.ptyOpen);
/** Sets the terminal's size (its foreground group gets SIGWINCH). */
export const ptyResize = wrap(addon.ptyResize);
/** Starts a thread that copies between the master (a duplicate of it) and a
 * socket; returns our end of the socket: writes are the input, reads the
 * output, EOF once the terminal end is closed everywhere and the output delivered. */
export const ptyRelay = wrap(addon.ptyRelay);

// ---- builtin port driver (addon/port/, the design in addon/port/wire.h) ----

/** Parent: starts one relay worker per control socket (the parent's ends). */
export const createRelay = wrap(addon.createRelay);
/** Hands listening/bound sockets (one per worker) to the workers; they own them now. */
export const relayAdd = wrap(addon.relayAdd);
/** Closes the port's sockets; resolves once nothing more is accepted on it
 * (the workers do the waiting, not the JS thread). */
export const relayRemove = wrap(addon.relayRemove);
export const relayStats = wrap(addon.relayStats);
/** Ends the workers; open connections are reset, every fd closed. */
export const relayStop = wrap(addon.relayStop);
/** A non-blocking, close-on-exec socket bound (and listening, for TCP) on
 * ip:port. v6only: -1 leaves the system default. Throws SyscallError
 * (EADDRINUSE, EADDRNOTAVAIL...) naming the address. */
export const listenSocket = wrap(addon.listenSocket);
export const socketpairSeqpacket = wrap(addon.socketpairSeqpacket);
/** Child: serves connect requests on these control sockets, in a native
 * thread (which enters netnsPath first, if given: --detach-netns). */
export const startConnector = wrap(addon.startConnector);
/** The rtnetlink request the connector would send (unit tests decode it). */
export const encodeNetlink = wrap(addon.encodeNetlink);
