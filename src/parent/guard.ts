// Cleans up after a launcher that cannot: a SIGKILLed launcher runs no
// cleanup, and its child dies with it. A tiny process (addon/ns.cc) waits
// for the launcher's exit, then kills what is left in the session's user
// namespace (orphans of the target without --pidns, slirp4netns), and, for
// a state dir the session made (a fresh temp dir, a named session's),
// removes the files of STATE_FILES, the lock and the directory. An
// --state-dir given by the user keeps its files after a SIGKILL, as before:
// the next session there cleans them (statedir.ts).
import { startStateDirGuard, stopStateDirGuard } from '../sys/native.js';
import { STATE_FILES, TEMP_FILES } from '../sys/statedir.js';

export interface Guard {
  stop(): void;
}

/**
 * removeFiles false: only the processes (a --state-dir of the user's).
 * removeBase: also the directory's parent when it is empty
 * ($XDG_RUNTIME_DIR/rootless of named sessions).
 */
export function guardSession(dir: string, removeFiles: boolean, usernsFd: number, removeBase = false): Guard {
  const names = removeFiles ? [...STATE_FILES, ...TEMP_FILES] : [];
  const g = startStateDirGuard(dir, names, removeFiles, usernsFd, removeBase);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      stopStateDirGuard(g.pidfd);
    },
  };
}
