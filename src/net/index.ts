// Network drivers, parent half: attach user-mode networking to the child's
// network namespace and say what the child must configure on its side.
// One folder per driver (parent and child halves together); this file
// only dispatches, and loads a driver's code only when it is used.
import type { NetworkContext, NetworkPlan, NetworkSession } from './types.js';
import { resolveProgram } from './binary.js';

export type { NetworkApiInfo, NetworkContext, NetworkSession } from './types.js';

const never = new Promise<never>(() => {});

// Kept here (not imported from the drivers' modules) so that checking a
// run needs none of their code.
const PROGRAMS = {
  slirp4netns: { flag: 'slirp4netnsBinary', debianPackage: 'slirp4netns' },
  pasta: { flag: 'pastaBinary', debianPackage: 'passt' },
} as const;

function program(opts: NetworkPlan): string | undefined {
  if (opts.driver !== 'slirp4netns' && opts.driver !== 'pasta') return undefined;
  const p = PROGRAMS[opts.driver];
  return resolveProgram({ name: opts[p.flag], driver: opts.driver, debianPackage: p.debianPackage });
}

/**
 * Before anything starts: the driver's program exists and is executable
 * (else one line naming it and its package, exit 125).
 */
export function checkNetwork(opts: NetworkPlan): void {
  program(opts);
}

export async function startNetwork(opts: NetworkPlan, ctx: NetworkContext): Promise<NetworkSession> {
  if (opts.detachNetns) ctx.state.track('netns');
  switch (opts.driver) {
    case 'host':
    case 'none':
      return {
        childInfo: { driver: opts.driver, ...(opts.detachNetns ? { detached: true } : {}) },
        apiInfo: { driver: opts.driver, dns: [] },
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
