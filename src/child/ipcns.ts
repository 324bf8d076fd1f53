// --ipcns: the kernel isolates System V IPC and POSIX message queues by
// itself, but POSIX shared memory and named semaphores are files in
// /dev/shm, and /dev/mqueue lists the host's queues. Fresh instances of both
// make POSIX IPC as private as System V IPC.
import { existsSync } from 'node:fs';
import { SyscallError } from '../sys/errors.js';
import { mount, mountFlags as M } from '../sys/native.js';
import type { Logger } from '../sys/log.js';

export function mountIpcFilesystems(log: Logger): void {
  const fresh: [string, string, string | null][] = [
    ['/dev/shm', 'tmpfs', 'mode=1777'],
    ['/dev/mqueue', 'mqueue', null],
  ];
  for (const [target, fstype, data] of fresh) {
    if (!existsSync(target)) continue;
    try {
      mount(fstype, target, fstype, M.MS_NOSUID | M.MS_NODEV | M.MS_NOEXEC, data);
    } catch (err) {
      if (!(err instanceof SyscallError)) throw err;
      log.warn(`cannot mount a private ${fstype} on ${target} (${err.code}); it stays shared with the host`);
    }
  }
}
