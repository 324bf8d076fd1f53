// --detach-netns, parent half. The child binds the isolated namespace at
// $STATE/netns inside the session's mount namespace, where the host cannot
// see that mount; the driver reaches it through the child's root
// (/proc/PID/root), which resolves paths in the child's mount namespace.
import { join } from 'node:path';

export const NETNS_FILE = 'netns';

export function detachedNetnsPath(childPid: number, stateDir: string): string {
  return `/proc/${childPid}/root${join(stateDir, NETNS_FILE)}`;
}
