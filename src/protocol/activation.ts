// Systemd socket activation as the target sees it, whichever process execs
// it (the node child, src/child/activation.ts, or the addon's gated child,
// src/parent/native-child.ts): LISTEN_FDS=n, LISTEN_FDNAMES as given, and
// LISTEN_PID added by the addon with the target's own pid.
import { envDelete } from '../sys/bytes.js';

export function activatedTargetEnv(targetEnv: readonly Buffer[], n: number): Buffer[] {
  const env = envDelete(targetEnv, 'LISTEN_PID', 'LISTEN_FDS');
  env.push(Buffer.from(`LISTEN_FDS=${n}`));
  return env;
}
