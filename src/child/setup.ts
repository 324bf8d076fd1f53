// Namespace setup inside the child, before it reports
// ChildInitUserNSCompleted: mount propagation, PID 1 duties, copy-up, a
// fresh /sys for a network namespace, /proc for a pid namespace, private
// IPC filesystems. The order is RootlessKit's (copy-up, sysfs, procfs), so
// a copied-up directory is the host's original, not one of our mounts. The
// network drivers replace /etc/resolv.conf and /etc/hosts afterwards
// (src/net/child.ts), inside a copied-up /etc when there is one.
import type { ChildConfig } from '../protocol/config.js';
import type { Logger } from '../sys/log.js';
import { setRootPropagation } from './mounts.js';
import { becomeInit, mountProc } from './pidns.js';
import { copyUp } from './copyup.js';
import { mountSysfs } from './sysfs.js';
import { mountCgroup2 } from './cgroup.js';
import { mountIpcFilesystems } from './ipcns.js';

export function prepareNamespaces(config: ChildConfig, log: Logger): void {
  setRootPropagation(config.propagation);
  // First: the reaper must be running before anything is spawned.
  if (config.namespaces.pid) becomeInit(config.reaper, log);
  if (config.copyUp.length > 0) copyUp(config.copyUp, log);
  const evacuate = config.evacuateCgroup2 !== undefined;
  if (config.namespaces.net) mountSysfs(evacuate, log);
  else if (evacuate) mountCgroup2(false, log);
  if (config.namespaces.pid) mountProc(log);
  if (config.namespaces.ipc) mountIpcFilesystems(log);
}
