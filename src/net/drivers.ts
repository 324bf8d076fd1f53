// The parent halves of the network drivers, by name. Loaded only when
// asked for: a run loads the code of its own driver only. Adding a driver:
// a folder src/net/<name>/ (parent.ts, child.ts), its name in
// src/protocol/drivers.ts, a line here and one in src/net/child.ts.
import type { NetDriverName } from '../protocol/drivers.js';
import type { NetworkParentDriver, NetworkParentModule } from './driver.js';

const PARENT_HALVES: Record<NetDriverName, () => Promise<NetworkParentModule>> = {
  host: () => import('./host/parent.js'),
  none: () => import('./none/parent.js'),
  slirp4netns: () => import('./slirp4netns/parent.js'),
  pasta: () => import('./pasta/parent.js'),
};

export async function networkDriver(name: NetDriverName): Promise<NetworkParentDriver> {
  return (await PARENT_HALVES[name]()).driver;
}

export const NETWORK_DRIVER_NAMES = Object.keys(PARENT_HALVES) as NetDriverName[];
