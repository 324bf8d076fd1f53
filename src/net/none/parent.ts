// --net=none, parent half: a network namespace with only loopback; nothing
// runs, nothing to check.
import type { NetworkParentDriver } from '../driver.js';
import { idleSession } from '../session.js';

export const driver: NetworkParentDriver = {
  name: 'none',
  check: async () => ({}),
  start: async (plan) => idleSession('none', plan.detachNetns),
};
