// Systemd socket activation, the parent's half: when LISTEN_PID names this
// process, fds 3..3+LISTEN_FDS-1 are listening sockets handed to us; they
// go to the child (after its protocol fds, see CHILD_FD.firstActivated) and
// from there to the target (src/child/activation.ts). Variables naming
// another process are not ours and pass to the target untouched.
import { fstatSync } from 'node:fs';
import { RootlessError } from '../sys/errors.js';

/** The child's spawn takes at most 64 fds, 6 of which are the child's own. */
export const MAX_LISTEN_FDS = 32;
const SD_LISTEN_FDS_START = 3;

/** The activated fds, or [] when this process was not socket-activated. */
export function activatedFds(env: NodeJS.ProcessEnv, pid: number, isOpen: (fd: number) => boolean = fdIsOpen): number[] {
  if (env.LISTEN_PID === undefined || env.LISTEN_PID !== String(pid)) return [];
  const raw = env.LISTEN_FDS ?? '';
  if (!/^[0-9]+$/.test(raw) || Number(raw) > MAX_LISTEN_FDS) {
    throw new RootlessError(`socket activation: LISTEN_FDS=${JSON.stringify(raw)} is not a number of sockets (0-${MAX_LISTEN_FDS})`, {
      step: 'socket activation', subject: 'LISTEN_FDS',
    });
  }
  const fds = Array.from({ length: Number(raw) }, (_, i) => SD_LISTEN_FDS_START + i);
  for (const fd of fds) {
    if (!isOpen(fd)) {
      throw new RootlessError(`socket activation: LISTEN_FDS=${raw}, but fd ${fd} is not open`, {
        step: 'socket activation', code: 'EBADF', subject: String(fd),
      });
    }
  }
  return fds;
}

function fdIsOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}
