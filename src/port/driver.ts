// The port driver contract, paired as RootlessKit's port.ParentDriver and
// port.ChildDriver: one folder per driver (src/port/<name>/) with a
// parent.ts that exports `driver: PortParentDriver` and, when something
// runs inside the namespace, a child.ts that exports `driver:
// PortChildDriver`. The registries (src/port/drivers.ts in the parent,
// src/port/child.ts in the child) list them by name.
import type { ChildPortInfo, PortDriverName } from '../protocol/drivers.js';
import type { Logger } from '../sys/log.js';
import type { StateDir } from '../sys/statedir.js';
import type { PortDriver } from './manager.js';
import type { PortPlan } from './types.js';

/** Made before the clone; opaque to the launcher. */
export interface PortPrep {
  /** Fds the child inherits (after the launcher's own); the parent's
   * copies are closed once the child is cloned. */
  readonly childFds: readonly number[];
  /** What the port driver hands the network driver (NetworkContext.fromPorts: pasta's -t/-u options). */
  readonly forNetwork?: unknown;
  /** The child is cloned: where childFds landed in it. */
  cloned(childFdNumbers: readonly number[]): void;
  /** The session ends; what start() did not take over is closed. Idempotent. */
  discard(): void;
}

export interface PortContext {
  childPid: number;
  state: StateDir;
  log: Logger;
  /** What the network driver handed over (NetworkSession.forPorts); opaque here. */
  fromNetwork?: unknown;
  /** --detach-netns: the child's network namespace, bound at this path. */
  netnsPath?: string;
}

export interface PortSession {
  /** Sent to the child in ParentInitPortDriverCompleted. */
  childInfo: ChildPortInfo;
  /** The REST API's port manager; undefined for --port-driver=none. */
  driver?: PortDriver;
  /** Rejects with a RootlessError if the driver fails during the session. */
  failed: Promise<never>;
  stop(): Promise<void>;
}

export interface PortParentDriver {
  readonly name: PortDriverName;
  /** Before anything starts (preflight): the -p specs are something this driver can forward; bad input throws a UsageError. */
  check(plan: PortPlan): void;
  /** Before the clone. */
  prepare(plan: PortPlan): Promise<PortPrep>;
  /** Once the network driver runs: every -p listens, or none and a RootlessError. */
  start(plan: PortPlan, ctx: PortContext, prep: PortPrep): Promise<PortSession>;
}

export interface PortChildDriver {
  /** Inside the namespace, before the target: what runs there for the session. */
  start(info: ChildPortInfo, log: Logger): Promise<void>;
}
