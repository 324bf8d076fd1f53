// --evacuate-cgroup2, the child's half: the parent moved the session's
// processes into a sub-group (src/parent/cgroup.ts); here the session's own
// cgroup (the root of its cgroup namespace) is mounted at /sys/fs/cgroup, so
// that what runs inside (dockerd, systemd) can make sub-groups with the
// controllers the parent enabled.
import { mount } from '../sys/native.js';
import type { Logger } from '../sys/log.js';
import { PSEUDO_FS_FLAGS } from './mounts.js';

export const CGROUP_DIR = '/sys/fs/cgroup';

/**
 * `emptyDir`: /sys/fs/cgroup is the empty directory of a fresh sysfs.
 * Otherwise a tmpfs goes first: cgroup2 over the host's cgroup2 mount of the
 * same superblock and root would fail with EBUSY.
 */
export function mountCgroup2(emptyDir: boolean, log: Logger): void {
  if (!emptyDir) mount('none', CGROUP_DIR, 'tmpfs', PSEUDO_FS_FLAGS, 'mode=0755');
  mount('none', CGROUP_DIR, 'cgroup2', PSEUDO_FS_FLAGS, null);
  log.debug('mounted the session cgroup2 at /sys/fs/cgroup');
}
