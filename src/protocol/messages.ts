// Messages exchanged between the parent (host namespaces) and the child
// (inside the new namespaces). Names follow RootlessKit's handshake so the
// two are easy to compare; payloads are ours.
//
//   parent                                       child
//   ------                                       -----
//   clone3 (pipes on fds 3, 4)  ---------------> node starts
//   ParentHello {config}        --------------->
//                               <--------------- ChildHello (crosses the id maps)
//   newuidmap/newgidmap
//   ParentInitIdmapCompleted    --------------->
//                                                capabilities (re-exec if need be),
//                                                mounts, /proc, --detach-netns ns
//                               <--------------- ChildInitUserNSCompleted
//   (unless --net=host and no port driver:)
//   network driver attached
//   ParentInitNetworkDriverCompleted {network} -> lo, resolv.conf, hosts
//   ports listen, api.sock
//   ParentInitPortDriverCompleted {port} ------> port connector
//                                                the target runs
//                               <--------------- ChildTargetStarted {pid}
//                               <--------------- ChildTargetExited {code, signal}
//   (or, when nothing stays inside (config.execTarget): ChildTargetStarted
//   {pid, exec: true}, then the child becomes the target: the channel's EOF
//   says the execve is done, the child's own exit status is the target's)
//
// ChildLog may come at any time; ChildError replaces whatever was awaited
// and ends the session.

import type { RootlessError } from '../sys/errors.js';
import type { RecordLevel } from '../sys/log.js';
import type { ChildConfig } from './config.js';
import type { ChildNetworkInfo, ChildPortInfo } from './drivers.js';

export const PROTOCOL_VERSION = 1;

/** Parent -> child, written right after clone: everything the child needs. */
export interface ParentHello {
  type: 'ParentHello';
  version: number;
  config: ChildConfig;
}

/** Child -> parent: node is up and read the config. */
export interface ChildHello {
  type: 'ChildHello';
  version: number;
}

/** Parent -> child: newuidmap/newgidmap (or the direct write) are done. */
export interface ParentInitIdmapCompleted {
  type: 'ParentInitIdmapCompleted';
}

/** Child -> parent: capabilities held, propagation set, mounts done. */
export interface ChildInitUserNSCompleted {
  type: 'ChildInitUserNSCompleted';
  /** How many times the child re-executed itself to gain capabilities
   * (0 on the ambient fast path). */
  reexecs: number;
}

/** Parent -> child: the network driver is attached (issue: networking). */
export interface ParentInitNetworkDriverCompleted {
  type: 'ParentInitNetworkDriverCompleted';
  /** Driver-specific details the child needs (addresses, DNS). */
  network: ChildNetworkInfo;
}

/** Parent -> child: the port driver is ready (issue: ports). */
export interface ParentInitPortDriverCompleted {
  type: 'ParentInitPortDriverCompleted';
  port: ChildPortInfo;
}

/** Child -> parent: the target runs with this pid (in the child's pid ns and the host's). */
export interface ChildTargetStarted {
  type: 'ChildTargetStarted';
  pid: number;
  /** The child is about to execve the target itself (pid is its own). */
  exec?: boolean;
}

/** Child -> parent: the target ended. Exactly one of code/signal is set. */
export interface ChildTargetExited {
  type: 'ChildTargetExited';
  code: number | null;
  signal: number | null;
}

/** Child -> parent: the child failed; the parent prints it and exits. */
export interface ChildError {
  type: 'ChildError';
  message: string;
  step: string;
  code?: string;
  subject?: string;
  hint?: string;
  exitCode: number;
}

/** The ChildError message for a typed error (the node child's and the native child's alike). */
export function childErrorMessage(e: RootlessError): ChildError {
  return {
    type: 'ChildError',
    message: e.message,
    step: e.step,
    exitCode: e.exitCode,
    ...(e.code ? { code: e.code } : {}),
    ...(e.subject ? { subject: e.subject } : {}),
    ...(e.hint ? { hint: e.hint } : {}),
  };
}

/** Child -> parent: a log record, so the child needs no logger of its own. */
export interface ChildLog {
  type: 'ChildLog';
  level: RecordLevel;
  msg: string;
  fields?: Record<string, unknown>;
}

export type ParentMessage =
  | ParentHello
  | ParentInitIdmapCompleted
  | ParentInitNetworkDriverCompleted
  | ParentInitPortDriverCompleted;

export type ChildMessage =
  | ChildHello
  | ChildInitUserNSCompleted
  | ChildTargetStarted
  | ChildTargetExited
  | ChildError
  | ChildLog;

export type Message = ParentMessage | ChildMessage;
export type MessageType = Message['type'];

export const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  'ParentHello',
  'ChildHello',
  'ParentInitIdmapCompleted',
  'ChildInitUserNSCompleted',
  'ParentInitNetworkDriverCompleted',
  'ParentInitPortDriverCompleted',
  'ChildTargetStarted',
  'ChildTargetExited',
  'ChildError',
  'ChildLog',
]);
