// Network drivers, parent half: attach user-mode networking to the child's
// network namespace and say what the child must configure on its side.
// One folder per driver (parent and child halves together, the contract in
// driver.ts); src/net/drivers.ts finds a driver's code by name.
import type { NetworkContext, NetworkPlan, NetworkSession } from './types.js';
import type { NetworkCheck } from './driver.js';
import { networkDriver } from './drivers.js';

export type { NetworkApiInfo, NetworkContext, NetworkSession } from './types.js';
export type { DriverHost, NetworkCheck } from './driver.js';
export { networkDriver, NETWORK_DRIVER_NAMES } from './drivers.js';
export { runningHost } from './binary.js';

/** Starts the plan's driver; `checked` is its check of this host (src/parent/preflight.ts). */
export async function startNetwork(plan: NetworkPlan, ctx: NetworkContext, checked: NetworkCheck): Promise<NetworkSession> {
  if (plan.detachNetns) ctx.state.track('netns');
  return (await networkDriver(plan.driver)).start(plan, ctx, checked);
}
