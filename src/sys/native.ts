// Typed binding to the C++ addon (addon/). Native errors carry .code
// (errno name), .syscall and .subject; they are rethrown as SyscallError so
// every caller gets the same typed error.


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
  /** Lower the soft RLIMIT_NOFILE to this before execve (see nofile.ts). */
  nofileSoft?: number;
}

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

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

interface Addon {
  spawn(opts: SpawnOptions, onExit: (err: null, status: ExitStatus) => void): Spawned;
  startReaper(): void;
  orphansReaped(): number;
  pipe2(): [number, number];
  close(fd: number): void;
  memfdCreate(name: string): number;
  flock(fd: number, exclusive: boolean, nonblocking: boolean): boolean;
  capget(): CapSets;
  setPdeathsig(sig: number): void;
  clearAmbientCaps(): void;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, sig: number): boolean;
  pidfdExited(pidfd: number): boolean;
  execve(file: Bytes, argv: Bytes[], envp: Bytes[], keepFds?: number[]): never;
  reapChild(pid: number, block: boolean): boolean;
  pollFd(fd: number, wantWrite: boolean, timeoutMs: number): boolean;
  getpgrp(): number;
  tcgetpgrp(fd: number): number;
  tcsetpgrp(fd: number, pgrp: number): void;
  sethostname(name: string): void;
  setns(fd: number, nstype: number): void;
  cloneFlags: Record<
    'CLONE_NEWUSER' | 'CLONE_NEWNS' | 'CLONE_NEWNET' | 'CLONE_NEWPID' | 'CLONE_NEWUTS' | 'CLONE_NEWIPC' | 'CLONE_NEWCGROUP',
    number
  >;
  mountFlags: Record<
    | 'MS_RDONLY' | 'MS_NOSUID' | 'MS_NODEV' | 'MS_NOEXEC' | 'MS_REMOUNT' | 'MS_BIND' | 'MS_MOVE'
    | 'MS_REC' | 'MS_PRIVATE' | 'MS_SLAVE' | 'MS_SHARED' | 'MS_RELATIME' | 'MNT_DETACH',
    number
  >;
}

import { loadAddon, wrap } from './addon.js';

const addon = loadAddon<Addon>();

export const cloneFlags = addon.cloneFlags;
export const mountFlags = addon.mountFlags;

export const spawn = wrap(addon.spawn);
export const startReaper = wrap(addon.startReaper);
export const orphansReaped = wrap(addon.orphansReaped);
export const pipe2 = wrap(addon.pipe2);
export const close = wrap(addon.close);
export const memfdCreate = wrap(addon.memfdCreate);
export const flock = wrap(addon.flock);
export const capget = wrap(addon.capget);
export const setPdeathsig = wrap(addon.setPdeathsig);
export const clearAmbientCaps = wrap(addon.clearAmbientCaps);
export const mount = wrap(addon.mount);
export const umount2 = wrap(addon.umount2);
export const pidfdOpen = wrap(addon.pidfdOpen);
export const pidfdSendSignal = wrap(addon.pidfdSendSignal);
export const pidfdExited = wrap(addon.pidfdExited);
export const execve = wrap(addon.execve) as (file: Bytes, argv: Bytes[], envp: Bytes[], keepFds?: number[]) => never;
export const reapChild = wrap(addon.reapChild);
export const pollFd = wrap(addon.pollFd);
export const getpgrp = wrap(addon.getpgrp);
export const tcgetpgrp = wrap(addon.tcgetpgrp);
export const tcsetpgrp = wrap(addon.tcsetpgrp);
export const sethostname = wrap(addon.sethostname);
export const setns = wrap(addon.setns);

/** Bit for capability number `cap` in a CapSets field. */
export function hasCap(set: bigint, cap: number): boolean {
  return ((set >> BigInt(cap)) & 1n) === 1n;
}

export const CAP_SYS_ADMIN = 21;
