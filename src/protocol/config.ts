// What the parent tells the child in ParentHello: everything the child needs
// to set up the namespaces and run the target. Plain JSON, where the target's
// argv, environment and cwd, bytes that need not be UTF-8, travel as base64
// (src/sys/bytes.ts). And where the parent's spawn puts the child's fds.
import type { LogLevel } from '../sys/log.js';
import type { Propagation } from '../sys/mount.js';

export interface ChildNamespaces {
  pid: boolean;
  net: boolean;
  uts: boolean;
  ipc: boolean;
  cgroup: boolean;
}

/** Bytes, base64-encoded. */
export type Base64 = string;

export interface ChildConfig {
  /** Target argv; argv[0] is looked up in the target's PATH. */
  commandB64: Base64[];
  /** Target environment entries as the caller had them ("NAME=value", or
   * without '='), ROOTLESSKIT_* included. */
  envB64: Base64[];
  cwdB64: Base64;
  /** Signals the caller had ignored: ignored for the target too, never
   * forwarded (src/sys/signals.ts inheritIgnoredSignals). */
  ignoredSignals: number[];
  propagation: Propagation;
  logLevel: LogLevel;
  /** Give the target its own process group and the terminal's foreground
   * (the launcher was itself in the foreground of a terminal on stdin). */
  foreground: boolean;
  namespaces: ChildNamespaces;
  /** The parent sets up network/port drivers and sends
   * ParentInitNetworkDriverCompleted / ParentInitPortDriverCompleted; when
   * false (host network, no ports) the child goes straight to the target. */
  awaitDrivers: boolean;
  /** Nothing needs the child inside once the target runs (host network, no
   * port driver, no pid namespace): it execs the target instead of
   * spawning it (src/child/target.ts), one process less for the session. */
  execTarget?: boolean;
  /** Reap orphans (PID 1 of a new pid namespace). */
  reaper: boolean;
  stateDir: string;
  /** --copy-up directories, absolute and normalized, in order: each becomes
   * a writable tmpfs of symlinks into a bind of the original (src/child/copyup.ts). */
  copyUp: string[];
  /** --evacuate-cgroup2: the parent moved the session's processes into this
   * sub-group; the child mounts its cgroup2 at /sys/fs/cgroup. */
  evacuateCgroup2?: string;
  /** Systemd socket activation: this many sockets, at CHILD_FD.firstActivated
   * onwards here, go to the target at 3 onwards (src/child/activation.ts). */
  listenFds?: number;
  /** --detach-netns: the child makes a network namespace at $STATE/netns
   * (before ChildInitUserNSCompleted) and the target stays in the host's. */
  detachNetns?: boolean;
}

/** Child fds, as placed by the parent's spawn. */
export const CHILD_FD = {
  /** parent -> child messages */
  fromParent: 3,
  /** child -> parent messages */
  toParent: 4,
  /** pidfd of the parent: readable once the parent has exited */
  parentPidfd: 5,
  /** first of ChildConfig.listenFds activated sockets (systemd) */
  firstActivated: 6,
} as const;
