// Parent half shared by the user-mode drivers (slirp4netns, pasta): each
// runs its program, which configures the interface in the child's network
// namespace itself; what is the same around that program lives here (its
// folder keeps its options, fds and readiness signal).
import { RootlessError } from '../sys/errors.js';
import type { Logger } from '../sys/log.js';
import { guestNetwork } from './cidr.js';
import type { NetworkParentDriver } from './driver.js';
import type { ProgramFeatures } from './probe.js';
import { waitReady, type DriverProcess } from './process.js';
import { abandon, driverSession } from './session.js';
import type { NetworkContext, NetworkPlan, NetworkSession } from './types.js';

const READY_TIMEOUT_MS = 30_000;

/**
 * Refuses a program (`file`, probed as `f`) that lacks `option`, which
 * `why` (a flag, or the driver) needs: "<program> does not support
 * <option>, needed for <why>; <remedy>".
 */
export function requireOption(
  f: ProgramFeatures, option: string, why: string, p: { file: string; program: string; remedy: string },
): void {
  if (!f.options.includes(option)) {
    throw new RootlessError(`${p.program} does not support ${option}, needed for ${why}; ${p.remedy}`, {
      step: 'network driver', subject: p.file,
    });
  }
}

/** The driver's `start`: the program found by its check runs `start`. */
export function tapDriverStart(
  start: (plan: NetworkPlan, ctx: NetworkContext, file: string) => Promise<NetworkSession>,
): NetworkParentDriver['start'] {
  return (plan, ctx, checked) => {
    // The child half (tap-child.ts) writes these in the state dir.
    ctx.state.track('resolv.conf');
    ctx.state.track('hosts');
    return start(plan, ctx, checked.program!);
  };
}

/**
 * What the driver writes first on `readyR` (ours, closed here), once the
 * network is configured. If it fails, exits or times out first, it is
 * stopped (`polite` first, e.g. closing its exit fd) and the error thrown.
 */
export async function readyOrAbandon(proc: DriverProcess, readyR: number, polite: () => void): Promise<string> {
  try {
    return await waitReady(proc, readyR, READY_TIMEOUT_MS);
  } catch (err) {
    return abandon(proc, polite, err);
  }
}

/** The session of a ready driver: the interface it configured, for the child half and the REST API. */
export function tapSession(
  driver: 'slirp4netns' | 'pasta',
  opts: NetworkPlan,
  log: Logger,
  p: { proc: DriverProcess; driverPid: number | string; forPorts?: (childIP: string) => unknown; release?: () => void },
): NetworkSession {
  const net = guestNetwork(opts.cidr);
  log.debug({ driverPid: p.driverPid, ip: net.guest, gateway: net.gateway, mtu: opts.mtu }, `${driver} is ready`);
  return driverSession({
    proc: p.proc,
    childInfo: {
      driver, ifname: opts.ifname, ip: net.guest, prefixLength: net.prefixLength, gateway: net.gateway,
      mtu: opts.mtu, dns: [net.dns], ...(opts.detachNetns ? { detached: true } : {}),
    },
    apiInfo: { driver, dns: [net.dns], childIP: net.guest },
    ...(p.forPorts ? { forPorts: p.forPorts(net.guest) } : {}),
    ...(p.release ? { release: p.release } : {}),
  });
}
