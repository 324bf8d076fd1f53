// The parent halves of the port drivers, by name. Loaded only when asked
// for: `rootless run` without ports loads none. Adding a driver: a folder
// src/port/<name>/, its name in src/protocol/drivers.ts, a line here and
// one in src/port/child.ts.
import type { PortDriverName } from '../protocol/drivers.js';
import { lazyRegistry } from '../sys/registry.js';
import type { PortParentDriver } from './driver.js';

const PARENT_HALVES = lazyRegistry<PortDriverName, PortParentDriver>({
  none: () => import('./none/parent.js'),
  builtin: () => import('./builtin/parent.js'),
  slirp4netns: () => import('./slirp4netns/parent.js'),
  implicit: () => import('./implicit/parent.js'),
});

export const portDriver = PARENT_HALVES.load;

export const PORT_DRIVER_NAMES = PARENT_HALVES.names;
