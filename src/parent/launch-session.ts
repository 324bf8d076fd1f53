// What the launcher and a session's parts (src/parent/parts/) share: the
// plan, what each part made that a later one needs, and the child. A part
// reads what an earlier part or phase set; reading it before is a bug
// (an internal error, not a crash on undefined).
import type { Logger } from '../sys/log.js';
import type { StateDir } from '../sys/statedir.js';
import type { ChildConfig } from '../protocol/config.js';
import { CHILD_FD } from '../protocol/config.js';
import type { NetworkSession } from '../net/index.js';
import type { PortSession } from '../port/index.js';
import type { ChildHandle } from './child.js';
import type { LaunchPlan } from './plan.js';

function missing(what: string): Error {
  return new Error(`internal: ${what} used before it exists`);
}

export class LaunchSession {
  /** Fds the child inherits, from CHILD_FD.firstActivated on, in the parts' order. */
  readonly childFds: number[] = [];
  /** Fields of the child's config that parts add before ParentHello (the
   * isolation part: copyUp, reaper, evacuateCgroup2, listenFds). */
  readonly configFields: Partial<ChildConfig> = {};
  /** A driver that dies during the session ends it. */
  readonly failures: Promise<never>[] = [];
  /** NOTIFY_SOCKET for the target, when the relay runs. */
  notifySocket: string | undefined;
  /** What the port driver hands the network driver; opaque here. */
  fromPorts: unknown;
  network: NetworkSession | undefined;
  ports: PortSession | undefined;
  private childHandle: ChildHandle | undefined;
  private stateDir: StateDir | undefined;
  private sentConfig: ChildConfig | undefined;

  constructor(
    readonly plan: LaunchPlan,
    readonly log: Logger,
  ) {}

  /** Network or ports: the child waits for the drivers' messages. */
  get awaitDrivers(): boolean {
    return this.plan.network.driver !== 'host' || this.plan.ports.driver !== 'none';
  }

  /** Adds fds for the child; returns their numbers in the child. */
  addChildFds(fds: readonly number[]): number[] {
    const at = CHILD_FD.firstActivated + this.childFds.length;
    this.childFds.push(...fds);
    return fds.map((_, i) => at + i);
  }

  get child(): ChildHandle {
    if (this.childHandle === undefined) throw missing('the child');
    return this.childHandle;
  }

  set child(c: ChildHandle) {
    this.childHandle = c;
  }

  get state(): StateDir {
    if (this.stateDir === undefined) throw missing('the state dir');
    return this.stateDir;
  }

  set state(s: StateDir) {
    this.stateDir = s;
  }

  /** The config sent in ParentHello. */
  get childConfig(): ChildConfig {
    if (this.sentConfig === undefined) throw missing("the child's config");
    return this.sentConfig;
  }

  set childConfig(c: ChildConfig) {
    this.sentConfig = c;
  }

  /** The state dir, if it was opened. */
  get openedState(): StateDir | undefined {
    return this.stateDir;
  }
}
