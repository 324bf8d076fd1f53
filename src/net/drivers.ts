// The parent halves of the network drivers, by name. Loaded only when
// asked for: a run loads the code of its own driver only. Adding a driver:
// a folder src/net/<name>/ (parent.ts, child.ts), its name in
// src/protocol/drivers.ts, a line here and one in src/net/child.ts.
import type { NetDriverName } from '../protocol/drivers.js';
import { lazyRegistry } from '../sys/registry.js';
import type { NetworkParentDriver } from './driver.js';

const PARENT_HALVES = lazyRegistry<NetDriverName, NetworkParentDriver>({
  host: () => import('./host/parent.js'),
  none: () => import('./none/parent.js'),
  slirp4netns: () => import('./slirp4netns/parent.js'),
  pasta: () => import('./pasta/parent.js'),
});

export const networkDriver = PARENT_HALVES.load;

export const NETWORK_DRIVER_NAMES = PARENT_HALVES.names;
