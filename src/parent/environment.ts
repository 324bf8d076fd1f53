// The target's environment: the user's, untouched, plus RootlessKit's
// variables, which programs built for RootlessKit read, and NOTIFY_SOCKET
// pointing at the launcher's relay when there is one (parent/notify.ts),
// without a WATCHDOG_PID that names the launcher.
import { NOFILE_ENV } from '../sys/nofile.js';

/** Set by bin/rootless, which keeps NODE_EXTRA_CA_CERTS away from our own node. */
export const SAVED_CA_ENV = '_ROOTLESS_SAVED_NODE_EXTRA_CA_CERTS';

export function targetEnvironment(env: NodeJS.ProcessEnv, stateDir: string, notifySocket?: string): string[] {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out.set(k, v);
  const saved = out.get(SAVED_CA_ENV);
  out.delete(SAVED_CA_ENV);
  // bin/rootless's record of the fd limit: not the user's variable.
  out.delete(NOFILE_ENV);
  if (saved !== undefined && !out.has('NODE_EXTRA_CA_CERTS')) out.set('NODE_EXTRA_CA_CERTS', saved);
  if (notifySocket !== undefined) {
    out.set('NOTIFY_SOCKET', notifySocket);
    // systemd names the unit's main process, the launcher, whose pid means
    // nothing inside; sd_watchdog_enabled() in the target would then say
    // no. Without it, the target's WATCHDOG=1 (relayed as ours) counts.
    if (out.get('WATCHDOG_PID') === String(process.pid)) out.delete('WATCHDOG_PID');
  }
  out.set('ROOTLESSKIT_STATE_DIR', stateDir);
  out.set('ROOTLESSKIT_PARENT_EUID', String(process.geteuid!()));
  out.set('ROOTLESSKIT_PARENT_EGID', String(process.getegid!()));
  return [...out].map(([k, v]) => `${k}=${v}`);
}
