// --port-driver=none: nothing is forwarded; the REST API has no port manager.
import type { PortParentDriver } from '../driver.js';
import { never, noPrep } from '../session.js';

export const driver: PortParentDriver = {
  name: 'none',
  check: () => {},
  prepare: async () => noPrep(),
  start: async () => ({ childInfo: { driver: 'none' }, failed: never, stop: async () => {} }),
};
