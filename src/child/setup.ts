// Namespace setup inside the child, before it reports
// ChildInitUserNSCompleted: mount propagation (and, as they arrive, /proc
// for a pid namespace, /sys for a network namespace, copy-up, hostname).
import type { ChildConfig } from './config.js';
import type { ChildLogger } from './log.js';
import { setRootPropagation } from './mounts.js';

export function prepareNamespaces(config: ChildConfig, _log: ChildLogger): void {
  setRootPropagation(config.propagation);
}
