// The parent's half of the child: clone it into the new namespaces with the
// protocol pipes in place, and watch it through its pidfd.
import { fileURLToPath } from 'node:url';
import { Channel } from '../protocol/channel.js';
import type { ChildLog } from '../protocol/messages.js';
import { SyscallError } from '../sys/errors.js';
import { close, cloneFlags as CF, pidfdOpen, pipe2, spawn, type ExitStatus } from '../sys/native.js';
import { pidfdSignaller } from '../sys/process.js';
import { signalNumber } from '../sys/signals.js';
import type { ChildNamespaces } from '../protocol/config.js';
import { diagnoseUserNamespaceFailure } from './preflight.js';
import { TRACE_ENV, traceEnabled } from '../sys/trace.js';
import { NOFILE_ENV, startedNofileSoft } from '../sys/nofile.js';

/** The child passes the user's fd limit on to the target. */
function nofileEnv(): string[] {
  const n = startedNofileSoft();
  return n === undefined ? [] : [`${NOFILE_ENV}=${n}`];
}

export interface ChildHandle {
  pid: number;
  channel: Channel;
  exited: Promise<ExitStatus>;
  /** Resolves when the child's pipe closed (all its messages are in). */
  closed: Promise<void>;
  signal(sig: number): boolean;
}

/** Set by scripts/bundle.mjs in the bundled CLI: the child's bundle. */
declare const ROOTLESS_CHILD_ENTRY: string | undefined;

/** Where the child's entry point lives, next to this file's compiled form. */
export function childEntry(): string {
  const entry = typeof ROOTLESS_CHILD_ENTRY === 'string' ? ROOTLESS_CHILD_ENTRY : 'main.js';
  return fileURLToPath(new URL(`../child/${entry}`, import.meta.url));
}

export function namespaceFlags(ns: ChildNamespaces): number {
  let flags = CF.CLONE_NEWUSER | CF.CLONE_NEWNS;
  if (ns.net) flags |= CF.CLONE_NEWNET;
  if (ns.pid) flags |= CF.CLONE_NEWPID;
  if (ns.uts) flags |= CF.CLONE_NEWUTS;
  if (ns.ipc) flags |= CF.CLONE_NEWIPC;
  if (ns.cgroup) flags |= CF.CLONE_NEWCGROUP;
  return flags;
}

export interface SpawnChildOptions {
  namespaces: ChildNamespaces;
  /** The ambient fast path; off only to exercise the re-exec fallback. */
  ambientCaps: boolean;
  onLog: (msg: ChildLog) => void;
  /** Fds the child gets after its own, from CHILD_FD.firstActivated on (socket activation). */
  extraFds?: number[];
}

export async function spawnChild(opts: SpawnChildOptions): Promise<ChildHandle> {
  const [fromParentR, fromParentW] = pipe2();
  const [toParentR, toParentW] = pipe2();
  const selfPidfd = pidfdOpen(process.pid);
  let onExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((res) => (onExit = res));
  const fds = [0, 1, 2, fromParentR, toParentW, selfPidfd, ...(opts.extraFds ?? [])];
  let spawned;
  try {
    spawned = spawn(
      {
        file: process.execPath,
        argv: [process.execPath, childEntry()],
        // The child needs no environment: the target's comes in ParentHello.
        // Keeping it empty also keeps NODE_OPTIONS and NODE_EXTRA_CA_CERTS
        // (tens of ms at every node start) away from the child.
        envp: [...(traceEnabled() ? [`${TRACE_ENV}=1`] : []), ...nofileEnv()],
        cloneFlags: namespaceFlags(opts.namespaces),
        fds,
        raiseAmbientCaps: opts.ambientCaps,
        pdeathsig: signalNumber('SIGKILL'),
      },
      (_err, status) => onExit(status),
    );
  } catch (err) {
    for (const fd of [fromParentR, fromParentW, toParentR, toParentW, selfPidfd]) close(fd);
    if (err instanceof SyscallError && err.syscall === 'clone3') throw diagnoseUserNamespaceFailure(err);
    throw err;
  }
  for (const fd of [fromParentR, toParentW, selfPidfd]) close(fd);

  // node:net costs ~2.5 ms to load: only after the clone, while the child boots.
  const { Socket } = await import('node:net');
  const input = new Socket({ fd: toParentR, readable: true, writable: false });
  const output = new Socket({ fd: fromParentW, readable: false, writable: true });
  // A child that dies early closes its end; writes then fail with EPIPE,
  // which the channel reports on the next receive.
  output.on('error', () => {});
  const channel = new Channel(input, output, { peer: 'child', onLog: opts.onLog });
  const closed = new Promise<void>((res) => {
    input.once('close', () => res());
  });
  return {
    pid: spawned.pid,
    channel,
    exited,
    closed,
    signal: pidfdSignaller(spawned.pidfd, exited),
  };
}
