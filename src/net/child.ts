// Network drivers, child half: what the driver leaves to the child
// (loopback, resolv.conf, hosts) before the target starts, and the detached
// namespace of --detach-netns, made before the parent starts the driver.
// The child halves by name (src/net/drivers.ts has the parent halves).
import type { ChildConfig } from '../protocol/config.js';
import type { ChildNetworkInfo, NetDriverName } from '../protocol/drivers.js';
import type { Logger } from '../sys/log.js';
import type { NetworkChildDriver } from './driver.js';
import { createDetachedNetnsFile } from './detach/child.js';
import { driver as host } from './host/child.js';
import { driver as none } from './none/child.js';
import { driver as slirp4netns } from './slirp4netns/child.js';
import { driver as pasta } from './pasta/child.js';

export const CHILD_HALVES: Readonly<Record<NetDriverName, NetworkChildDriver>> = { host, none, slirp4netns, pasta };

/** Before ChildInitUserNSCompleted: the namespace the driver will attach to. */
export function prepareNetworkNamespace(config: ChildConfig, log: Logger): void {
  if (!config.detachNetns) return;
  const path = createDetachedNetnsFile(config.stateDir);
  log.debug({ path }, 'detached network namespace created');
}

export function configureChildNetwork(info: ChildNetworkInfo | undefined, config: ChildConfig, log: Logger): void {
  if (!info) return;
  CHILD_HALVES[info.driver].configure(info, config, log);
}
