// Capabilities of the child in its user namespace (DESIGN.md: "Gaining
// capabilities without a second boot of node"). The parent's spawn raised
// them into the ambient set, so node started holding them; if the kernel or
// a security policy refused, the child re-executes itself once the id maps
// exist, which makes it uid 0 in the namespace and gives it the full set.
import { RootlessError } from '../sys/errors.js';
import { writeSync } from 'node:fs';
import { CAP_SYS_ADMIN, capget, execve, hasCap, memfdCreate } from '../sys/native.js';
import { CHILD_FD, type ChildConfig } from '../protocol/config.js';
import type { Logger } from '../sys/log.js';

/** Environment variable naming the fd (a memfd) that carries the child's state across a re-exec. */
export const REEXEC_ENV = '_ROOTLESS_CHILD_REEXEC';

/** RootlessKit allows one re-exec too; more would mean a loop. */
export const MAX_REEXECS = 1;

export interface ReexecState {
  config: ChildConfig;
  reexecs: number;
}

export function holdsCapabilities(): boolean {
  return hasCap(capget().effective, CAP_SYS_ADMIN);
}

/**
 * Returns when the child holds CAP_SYS_ADMIN in its namespace; otherwise
 * re-executes (never returns) or throws once the re-exec budget is spent.
 */
export function ensureCapabilities(state: ReexecState, log: Logger): void {
  if (holdsCapabilities()) return;
  if (state.reexecs >= MAX_REEXECS) {
    throw new RootlessError(
      `the child holds no capabilities in its user namespace even after re-executing (uid ${process.getuid?.()})`,
      {
        step: 'gain capabilities',
        code: 'EPERM',
        hint: 'a security policy (AppArmor, SELinux, seccomp) may restrict user namespaces; check kernel.apparmor_restrict_unprivileged_userns',
      },
    );
  }
  log.debug({ reexecs: state.reexecs }, 'no capabilities from the ambient set; re-executing the child');
  const next: ReexecState = { config: state.config, reexecs: state.reexecs + 1 };
  // The state holds the target's argv and environment, up to execve's own
  // limit: too big for a variable (128 KiB per string), so it goes in an
  // anonymous file whose fd number the variable names.
  const stateFd = memfdCreate('rootless-reexec');
  const bytes = Buffer.from(JSON.stringify(next), 'utf8');
  for (let off = 0; off < bytes.length; ) off += writeSync(stateFd, bytes, off, bytes.length - off, off);
  const env = [`${REEXEC_ENV}=${stateFd}`];
  // Node marks even stdio close-on-exec at startup: keep all of ours open.
  execve(process.execPath, [process.execPath, ...process.execArgv, process.argv[1] ?? ''], env, [
    stateFd,
    0,
    1,
    2,
    CHILD_FD.fromParent,
    CHILD_FD.toParent,
    CHILD_FD.parentPidfd,
    // systemd-activated sockets, for the target
    ...Array.from({ length: state.config.listenFds ?? 0 }, (_, i) => CHILD_FD.firstActivated + i),
  ]);
}
