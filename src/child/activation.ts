// Systemd socket activation, the child's half: the parent passed the
// activated sockets along (src/parent/activation.ts); the target gets them
// at fds 3.. with LISTEN_FDS, LISTEN_FDNAMES as given, and LISTEN_PID set to
// the target's own pid as the target sees it. That pid is only known in the
// new process, so the addon writes it between clone and execve.
import type { ChildConfig } from '../protocol/config.js';
import { CHILD_FD } from '../protocol/config.js';
import { activatedTargetEnv } from '../protocol/activation.js';

export interface TargetActivation {
  /** For spawn's `fds` after 0-2. */
  fds: number[];
  env: Buffer[];
  listenPidEnv: boolean;
}

export function targetActivation(config: Pick<ChildConfig, 'listenFds'>, targetEnv: Buffer[]): TargetActivation {
  const n = config.listenFds ?? 0;
  if (n <= 0) return { fds: [], env: targetEnv, listenPidEnv: false };
  const fds = Array.from({ length: n }, (_, i) => CHILD_FD.firstActivated + i);
  return { fds, env: activatedTargetEnv(targetEnv, n), listenPidEnv: true };
}
