// The parent's part of process and mount isolation, in one place so its
// session part (src/parent/parts/isolation.ts) only calls in at a few
// points: checks of the flags that need the file system (before anything
// starts), socket activation, named sessions, the state-dir guard, cgroup2
// evacuation, and the session record that `rootless exec` and `rootless ps`
// read.
import { dirname } from 'node:path';
import { closeSync, openSync, rmdirSync, statSync, type Stats } from 'node:fs';
import type { Logger } from '../sys/log.js';
import type { LaunchPlan } from './plan.js';
import type { ChildConfig } from '../protocol/config.js';
import { UsageError } from '../sys/errors.js';
import { close, killNamespaceMembers } from '../sys/native.js';
import { activatedFds } from './activation.js';
import { evacuateCgroup2, prepareEvacuation, type Cgroup2Group } from './cgroup.js';
import { guardSession, type Guard } from './guard.js';
import {
  SESSION_FILE, SESSION_RECORD_VERSION, namedStateDir, namespaceInodes, namespaceList, recordEnvironment,
  type SessionRecord,
} from './sessions.js';
import type { StateDir } from '../sys/statedir.js';
import { fromBase64, toBase64 } from '../sys/bytes.js';

export function checkCopyUpDirs(dirs: readonly string[], stat: (p: string) => Stats = statSync): void {
  for (const dir of dirs) {
    let st: Stats;
    try {
      st = stat(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      const why = code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be read (${code})`;
      throw new UsageError(`--copy-up: ${JSON.stringify(dir)} ${why}`, { subject: dir, code });
    }
    if (!st.isDirectory()) {
      throw new UsageError(`--copy-up: ${JSON.stringify(dir)} is not a directory`, { subject: dir, code: 'ENOTDIR' });
    }
  }
}

export interface IsolationSession {
  /** The state dir to open: --state-dir, a named session's, or undefined for a fresh one. */
  readonly stateDir: string | undefined;
  /** Fds for the child after its own (socket activation). */
  readonly childFds: number[];
  /** Fields of the child's config. */
  childConfig(): Pick<ChildConfig, 'copyUp' | 'reaper' | 'evacuateCgroup2' | 'listenFds'>;
  /** The child is cloned and the state dir open. */
  attach(state: StateDir, childPid: number, log: Logger): void;
  /** The target runs: write the session record. */
  targetStarted(config: ChildConfig): void;
  /** After the state dir's cleanup. */
  end(): void;
}

/** Everything that can be refused is refused here, before the child is cloned. */
export function prepareIsolation(opts: LaunchPlan): IsolationSession {
  checkCopyUpDirs(opts.copyUp);
  const cgroup: Cgroup2Group | undefined = opts.evacuateCgroup2 !== undefined ? prepareEvacuation() : undefined;
  const activated = activatedFds(process.env, process.pid);
  const named = opts.stateDir === undefined && opts.name !== undefined;
  const stateDir = named ? namedStateDir(opts.name!) : opts.stateDir;
  let guard: Guard | undefined;
  let state: StateDir | undefined;
  let logger: Logger | undefined;
  let childPid = 0;
  // Pins the session's user namespace: what is in it (or nested in it) at
  // the end is killed, so that nothing outlives the session.
  let userns = -1;
  return {
    stateDir,
    childFds: activated,
    childConfig: () => ({
      copyUp: opts.copyUp,
      reaper: opts.reaper,
      ...(opts.evacuateCgroup2 !== undefined ? { evacuateCgroup2: opts.evacuateCgroup2 } : {}),
      ...(activated.length > 0 ? { listenFds: activated.length } : {}),
    }),
    attach(s, pid, log) {
      state = s;
      logger = log;
      childPid = pid;
      // The child has its copies; ours would keep the sockets open after it.
      for (const fd of activated) close(fd);
      try {
        userns = openSync(`/proc/${pid}/ns/user`, 'r');
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'cannot open the child user namespace');
      }
      // Only the default and named state dirs are removed after a SIGKILL:
      // a --state-dir of the user's keeps its files until the next session
      // there cleans them (statedir.ts).
      try {
        // --keep-orphans: what is left runs on after a SIGKILL of ours too.
        guard = guardSession(s.path, opts.stateDir === undefined, opts.keepOrphans ? -1 : userns, named);
      } catch (err) {
        // Only a SIGKILL of ours would then leave things behind: go on.
        log.warn({ err: (err as Error).message }, 'cannot start the state dir guard');
      }
      if (cgroup) evacuateCgroup2(cgroup, opts.evacuateCgroup2!, log);
    },
    targetStarted(config) {
      if (!state) return;
      const namespaces = namespaceList(config.namespaces);
      const record: SessionRecord = {
        version: SESSION_RECORD_VERSION,
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        pid: process.pid,
        childPid,
        startedAt: Date.now(),
        namespaces,
        nsInodes: namespaceInodes(childPid, namespaces),
        net: opts.network.driver,
        portDriver: opts.ports.driver,
        envB64: recordEnvironment(config.envB64.map(fromBase64)).map(toBase64),
        cwdB64: config.cwdB64,
      };
      try {
        state.writeFile(SESSION_FILE, `${JSON.stringify(record)}\n`);
      } catch (err) {
        // The session runs on; only exec and ps will not find it.
        logger?.warn({ err: (err as Error).message }, `cannot write ${SESSION_FILE}`);
      }
    },
    end() {
      if (userns >= 0) {
        // Without --pidns, orphans of the target (and `rootless exec`
        // commands) would live on: killed, unless --keep-orphans (RootlessKit's
        // way). With it, the child's exit as PID 1 ends them all.
        if (!opts.pidns && !opts.keepOrphans) {
          const n = killNamespaceMembers(userns);
          if (n > 0) logger?.debug({ processes: n }, 'killed what was left in the session');
        }
        closeSync(userns);
        userns = -1;
      }
      guard?.stop();
      if (named && state) {
        try {
          // Also when it was left by a killed session (not "created" then).
          rmdirSync(state.path);
        } catch {
          // not empty or gone
        }
        try {
          // And the sessions' base ($XDG_RUNTIME_DIR/rootless) when it is
          // empty: nothing of rootless stays after its last session.
          rmdirSync(dirname(state.path));
        } catch {
          // other sessions' dirs are there
        }
      }
    },
  };
}
