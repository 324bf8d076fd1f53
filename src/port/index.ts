// Port drivers, parent half: forward ports from the host into the child's
// network namespace. One folder per driver; this file only dispatches.
// Drivers are loaded lazily: `rootless run` without ports loads none.
import type { Logger } from '../sys/log.js';
import type { StateDir } from '../sys/statedir.js';
import { CHILD_FD } from '../protocol/config.js';
import { RootlessError } from '../sys/errors.js';
import type { ChildPortInfo } from '../protocol/drivers.js';
import type { PortDriver, PortManager } from './manager.js';
import type { BuiltinPrep } from './builtin/parent.js';
import { pastaForwards, pastaPortArgs } from './implicit/forwards.js';
import type { PortPlan } from './types.js';

export interface PortContext {
  childPid: number;
  state: StateDir;
  log: Logger;
  /** What the network driver handed over (NetworkSession.forPorts); opaque here. */
  fromNetwork?: unknown;
  /** --detach-netns: the child's network namespace, bound at this path. */
  netnsPath?: string;
  /** What preparePorts made before the clone. */
  prep?: PortPrep;
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

/** Made before the clone: fds the child must inherit. */
export interface PortPrep {
  builtin?: BuiltinPrep;
  /** spawnChild's extraFds: `others` (placed from CHILD_FD.firstActivated
   * on) and ours after them; records where ours land in the child. */
  placeAfter(others: readonly number[]): number[];
  /** Our fds' numbers in the child (after placeAfter). */
  childFdNumbers: number[];
  /** After the clone: the parent's copies of the child's fds are closed. */
  afterClone(): void;
  /** startPorts took the parent's fds over. */
  claim(): void;
  /** At the end of a start that failed before startPorts; no-op once claimed. */
  discard(): void;
  /** What the port driver hands the network driver (NetworkContext.fromPorts). */
  forNetwork?: unknown;
}

const never = new Promise<never>(() => {});

/** Relay workers of the builtin driver (connections are spread by SO_REUSEPORT). */
function builtinWorkers(): number {
  const n = Number(process.env.ROOTLESS_PORT_WORKERS ?? '');
  return Number.isInteger(n) && n >= 1 && n <= 16 ? n : 1;
}

/** Before anything starts: what the implicit driver (pasta) is asked to forward is something it can. */
export function checkPorts(opts: PortPlan): void {
  if (opts.driver === 'implicit') pastaForwards(opts.publish);
}

export async function preparePorts(opts: PortPlan): Promise<PortPrep | undefined> {
  if (opts.driver === 'implicit') {
    // pasta takes its forwards as options when it starts.
    return { forNetwork: pastaPortArgs(opts.publish), childFdNumbers: [], placeAfter: (others) => [...others], afterClone: () => {}, claim: () => {}, discard: () => {} };
  }
  if (opts.driver !== 'builtin') return undefined;
  const { prepareBuiltin } = await import('./builtin/parent.js');
  const { close } = await import('../sys/native.js');
  const builtin = prepareBuiltin(builtinWorkers());
  const closeAll = (fds: number[]): void => {
    for (const fd of fds.splice(0)) close(fd);
  };
  let claimed = false;
  const prep: PortPrep = {
    builtin,
    childFdNumbers: [],
    placeAfter: (others) => {
      prep.childFdNumbers = builtin.childFds.map((_, i) => CHILD_FD.firstActivated + others.length + i);
      return [...others, ...builtin.childFds];
    },
    afterClone: () => closeAll(builtin.childFds),
    claim: () => {
      claimed = true;
    },
    discard: () => {
      closeAll(builtin.childFds);
      if (!claimed) closeAll(builtin.parentFds);
    },
  };
  return prep;
}

export async function startPorts(opts: PortPlan, ctx: PortContext): Promise<PortSession> {
  if (opts.driver === 'none') {
    return { childInfo: { driver: 'none' }, failed: never, stop: async () => {} };
  }
  const specs = opts.publish.map((p) => p.spec);
  let driver: PortManager;
  let childInfo: ChildPortInfo = { driver: opts.driver };
  switch (opts.driver) {
    case 'builtin': {
      if (!ctx.prep?.builtin) throw new RootlessError('internal: the builtin port driver was not prepared before the clone', { step: 'port driver' });
      const { BuiltinDriver } = await import('./builtin/parent.js');
      driver = new BuiltinDriver(ctx.prep.builtin, { udpIdleMs: 60_000, pipeSize: 256 << 10, sourceIPTransparent: opts.sourceIPTransparent }, ctx.log);
      ctx.prep.claim();
      childInfo = { driver: 'builtin', controlFds: ctx.prep.childFdNumbers, sourceIPTransparent: opts.sourceIPTransparent };
      // --detach-netns: the child stays in the host's namespace; its
      // connector enters the detached one.
      if (ctx.netnsPath !== undefined) childInfo.netns = ctx.netnsPath;
      break;
    }
    case 'slirp4netns': {
      const { Slirp4netnsDriver, slirp4netnsApi } = await import('./slirp4netns/parent.js');
      const api = slirp4netnsApi(ctx.fromNetwork);
      if (api === undefined) {
        throw new RootlessError('--port-driver=slirp4netns: the network driver has no slirp4netns API socket', { step: 'port driver' });
      }
      driver = new Slirp4netnsDriver(api.apiSocket, api.childIP);
      break;
    }
    case 'implicit': {
      const { ImplicitDriver } = await import('./implicit/parent.js');
      const d = new ImplicitDriver();
      await d.start(specs);
      return { childInfo, driver: d, failed: never, stop: () => d.stop() };
    }
  }
  try {
    // Every -p listens before the session is ready, or none stays.
    await driver.addAll(specs);
  } catch (err) {
    await driver.stop().catch(() => {});
    throw err instanceof RootlessError ? new RootlessError(`--publish ${err.message}`, { step: 'publish', ...(err.code ? { code: err.code } : {}), ...(err.subject ? { subject: err.subject } : {}) }) : err;
  }
  for (const p of driver.list()) ctx.log.debug({ id: p.id, spec: p.spec }, 'port published');
  return { childInfo, driver, failed: never, stop: () => driver.stop() };
}
