// Mount setup inside the child's mount namespace.
import { mount, mountFlags as M } from '../sys/native.js';
import type { Propagation } from './config.js';

const PROPAGATION_FLAGS: Record<Propagation, number> = {
  rprivate: M.MS_REC | M.MS_PRIVATE,
  private: M.MS_PRIVATE,
  rslave: M.MS_REC | M.MS_SLAVE,
  slave: M.MS_SLAVE,
  rshared: M.MS_REC | M.MS_SHARED,
  shared: M.MS_SHARED,
};

/** Applies --propagation to /, so mounts made inside stay inside (or not). */
export function setRootPropagation(p: Propagation): void {
  mount(null, '/', null, PROPAGATION_FLAGS[p], null);
}
