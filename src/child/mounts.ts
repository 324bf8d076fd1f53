// Mount setup inside the child's mount namespace.
import { SyscallError } from '../sys/errors.js';
import { mount, mountFlags as M } from '../sys/native.js';
import type { Propagation } from '../sys/mount.js';
import { propagationFlags } from '../sys/propagation.js';
import type { Logger } from '../sys/log.js';

/** Applies --propagation to /, so mounts made inside stay inside (or not). */
export function setRootPropagation(p: Propagation): void {
  mount(null, '/', null, propagationFlags(p), null);
}

/** What pseudo filesystems get: nothing to execute, no devices, no set-uid. */
export const PSEUDO_FS_FLAGS = M.MS_NOSUID | M.MS_NODEV | M.MS_NOEXEC;

export type MountFn = (source: string | null, target: string, fstype: string | null, flags: number, data: string | null) => void;

export type FreshMount = 'rw' | 'ro' | 'none';

/**
 * Mounts a new instance of a kernel filesystem (proc, sysfs) on `target`,
 * read-write, or read-only with a warning when the kernel refuses
 * read-write: it does so when every instance visible in this mount
 * namespace is locked read-only (fs/namespace.c mnt_already_visible). If
 * even that is refused (the host's instance is partly covered, as in
 * containers that mask /proc/kcore or /sys/firmware), the old one stays,
 * with a warning: RootlessKit goes on in that case too.
 */
export function mountFresh(fstype: string, target: string, log: Logger, mountFn: MountFn = mount): FreshMount {
  try {
    mountFn(fstype, target, fstype, PSEUDO_FS_FLAGS, null);
    return 'rw';
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    log.warn(`mounting a fresh ${fstype} on ${target} read-write was refused (${err.code}); falling back to read-only`);
  }
  try {
    mountFn(fstype, target, fstype, PSEUDO_FS_FLAGS | M.MS_RDONLY, null);
    return 'ro';
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    log.warn(
      { hint: `something is mounted over parts of the host's ${target}, which the kernel then will not show again in full` },
      `mounting a fresh ${fstype} on ${target} was refused (${err.code}); ${target} keeps showing the host's`,
    );
    return 'none';
  }
}
