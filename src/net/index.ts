// Network drivers, parent half: attach user-mode networking to the child's
// network namespace and say what the child must configure on its side.
// One folder per driver (parent and child halves together); this file
// only dispatches, and loads a driver's code only when it is used.
import type { Logger } from '../cli/log.js';
import type { RunOptions } from '../cli/options.js';
import type { StateDir } from '../parent/statedir.js';
import type { ChildNetworkInfo } from './types.js';
import { resolveProgram } from './binary.js';
import { pastaForwards } from './pasta/forwards.js';

export interface NetworkContext {
  childPid: number;
  state: StateDir;
  log: Logger;
}

/** What GET /v1/info reports as networkDriver (RootlessKit's API). */
export interface NetworkApiInfo {
  driver: string;
  dns: string[];
  childIP?: string;
}

export interface NetworkSession {
  /** Sent to the child in ParentInitNetworkDriverCompleted. */
  childInfo: ChildNetworkInfo;
  /** For the REST API's /v1/info. */
  apiInfo: NetworkApiInfo;
  /** slirp4netns's API socket (--net=slirp4netns), for the slirp4netns port driver. */
  slirp4netnsApiSocket?: string;
  /** Rejects with a RootlessError if the driver dies during the session. */
  failed: Promise<never>;
  /** Stops the driver; idempotent. */
  stop(): Promise<void>;
}

const never = new Promise<never>(() => {});

// Kept here (not imported from the drivers' modules) so that checking a
// run needs none of their code.
const PROGRAMS = {
  slirp4netns: { flag: 'slirp4netnsBinary', debianPackage: 'slirp4netns' },
  pasta: { flag: 'pastaBinary', debianPackage: 'passt' },
} as const;

function program(opts: RunOptions): string | undefined {
  if (opts.net !== 'slirp4netns' && opts.net !== 'pasta') return undefined;
  const p = PROGRAMS[opts.net];
  return resolveProgram({ name: opts[p.flag], driver: opts.net, debianPackage: p.debianPackage });
}

/**
 * Before anything starts: the driver's program exists and is executable
 * (else one line naming it and its package, exit 125), and what pasta is
 * asked to forward is something it can.
 */
export function checkNetwork(opts: RunOptions): void {
  if (opts.net === 'pasta' && opts.portDriver === 'implicit') pastaForwards(opts.publish);
  program(opts);
}

export async function startNetwork(opts: RunOptions, ctx: NetworkContext): Promise<NetworkSession> {
  if (opts.detachNetns) ctx.state.track('netns');
  switch (opts.net) {
    case 'host':
    case 'none':
      return {
        childInfo: { driver: opts.net, ...(opts.detachNetns ? { detached: true } : {}) },
        apiInfo: { driver: opts.net, dns: [] },
        failed: never,
        stop: async () => {},
      };
    case 'slirp4netns': {
      ctx.state.track('resolv.conf');
      ctx.state.track('hosts');
      const { startSlirp4netns } = await import('./slirp4netns/parent.js');
      return startSlirp4netns(opts, ctx, program(opts)!);
    }
    case 'pasta': {
      ctx.state.track('resolv.conf');
      ctx.state.track('hosts');
      const { startPasta } = await import('./pasta/parent.js');
      return startPasta(opts, ctx, program(opts)!);
    }
  }
}
