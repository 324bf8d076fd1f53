// The target's environment: the caller's, byte for byte (src/sys/caller.ts),
// as RootlessKit passes it on (of duplicate names the first, entries without
// '=' kept: bytes.ts goEnviron), plus RootlessKit's variables, which
// programs built for RootlessKit read, and NOTIFY_SOCKET pointing at the
// launcher's relay when there is one (parent/notify.ts), without a
// WATCHDOG_PID that names the launcher.
import { envDelete, envGet, envSet, goEnviron } from '../sys/bytes.js';

export function targetEnvironment(caller: readonly Buffer[], stateDir: string, notifySocket?: string): Buffer[] {
  let out = goEnviron(caller);
  if (notifySocket !== undefined) {
    out = envSet(out, 'NOTIFY_SOCKET', notifySocket);
    // systemd names the unit's main process, the launcher, whose pid means
    // nothing inside; sd_watchdog_enabled() in the target would then say
    // no. Without it, the target's WATCHDOG=1 (relayed as ours) counts.
    if (envGet(out, 'WATCHDOG_PID')?.toString() === String(process.pid)) out = envDelete(out, 'WATCHDOG_PID');
  }
  out = envSet(out, 'ROOTLESSKIT_STATE_DIR', stateDir);
  out = envSet(out, 'ROOTLESSKIT_PARENT_EUID', String(process.geteuid!()));
  out = envSet(out, 'ROOTLESSKIT_PARENT_EGID', String(process.getegid!()));
  return out;
}
