// The mount flags behind each --propagation value, for "/" in the new mount
// namespace: set by the node child (src/child/mounts.ts) or, on the light
// path, by the addon's gated child (src/parent/native-child.ts).
import { mountFlags as M } from './native.js';
import type { Propagation } from './mount.js';

const PROPAGATION_FLAGS: Record<Propagation, number> = {
  rprivate: M.MS_REC | M.MS_PRIVATE,
  private: M.MS_PRIVATE,
  rslave: M.MS_REC | M.MS_SLAVE,
  slave: M.MS_SLAVE,
  rshared: M.MS_REC | M.MS_SHARED,
  shared: M.MS_SHARED,
};

export function propagationFlags(p: Propagation): number {
  return PROPAGATION_FLAGS[p];
}
