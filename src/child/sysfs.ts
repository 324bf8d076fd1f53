// A fresh sysfs for a new network namespace: /sys/class/net then lists the
// namespace's devices, not the host's. /sys/fs/cgroup stays available: the
// host's tree there is carried across as a detached copy (open_tree) and
// attached again on top of the new sysfs; with --evacuate-cgroup2 the
// session's own cgroup2 goes there instead.
import { close, moveMount, openTree } from '../sys/native.js';
import { CGROUP_DIR, mountCgroup2 } from './cgroup.js';
import type { Logger } from '../sys/log.js';
import { mountFresh } from './mounts.js';

export function mountSysfs(evacuateCgroup2: boolean, log: Logger): void {
  const cgroupTree = evacuateCgroup2 ? -1 : openTree(CGROUP_DIR);
  try {
    const how = mountFresh('sysfs', '/sys', log);
    if (how === 'none') {
      // The host's /sys (and its /sys/fs/cgroup) stays as it was.
      if (evacuateCgroup2) mountCgroup2(false, log);
      return;
    }
    if (evacuateCgroup2) mountCgroup2(true, log);
    else moveMount(cgroupTree, CGROUP_DIR);
    log.debug({ readOnly: how === 'ro' }, 'mounted a fresh /sys');
  } finally {
    if (cgroupTree >= 0) close(cgroupTree);
  }
}
