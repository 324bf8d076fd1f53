// --net=host, parent half: the child stays in the host's network
// namespace; nothing runs, nothing to check.
import type { NetworkParentDriver } from '../driver.js';
import { idleSession } from '../session.js';

export const driver: NetworkParentDriver = {
  name: 'host',
  check: async () => ({}),
  start: async (plan) => idleSession('host', plan.detachNetns),
};
