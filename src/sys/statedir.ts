// The state directory, laid out as RootlessKit's: `lock` (flock held for
// the session's life), `child_pid`, and later `netns`, `resolv.conf`,
// `hosts`, `api.sock`. Programs built for RootlessKit read it.
import {
  closeSync, constants, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync,
  renameSync, rmdirSync, rmSync, statSync, unlinkSync, chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootlessError } from './errors.js';
import { flock } from './native.js';
import { removeEntry, writeNewFile } from './state-file.js';

/** Files a session may create; only these are removed from a stale dir. */
export const STATE_FILES = ['child_pid', 'netns', 'resolv.conf', 'hosts', 'api.sock', 'slirp4netns.sock', 'pasta.pid', 'session.json', 'notify.sock'];
/** Their temporary names (made, then renamed to the name). */
export const TEMP_FILES = STATE_FILES.map((n) => `.${n}.tmp`);

export interface StateDir {
  readonly path: string;
  /** The directory was made by this session (and is removed at the end). */
  readonly created: boolean;
  /** Write a file atomically (temp + rename), mode 0600 unless given. */
  writeFile(name: string, content: string, mode?: number): void;
  /** Remember a file (e.g. a socket) created by other means, for cleanup. */
  track(name: string): void;
  /** Remove what this session created, release the lock. Idempotent. */
  cleanup(): void;
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'EIO';
}

/** Base for default state dirs: $XDG_RUNTIME_DIR if usable, else the temp dir. */
export function defaultStateBase(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/')) {
    try {
      const st = statSync(xdg);
      if (st.isDirectory() && st.uid === process.geteuid!()) return xdg;
    } catch {
      // fall through
    }
  }
  return tmpdir();
}

function prepareNamedDir(path: string, onWarn?: (msg: string) => void): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') {
      throw new RootlessError(`--state-dir ${path}: ${errnoOf(err)}`, { step: 'state dir', code: errnoOf(err), subject: path });
    }
    try {
      mkdirSync(path, { recursive: true, mode: 0o700 });
      chmodSync(path, 0o700);
    } catch (e) {
      throw new RootlessError(`--state-dir ${path}: cannot create it: ${errnoOf(e)}`, { step: 'state dir', code: errnoOf(e), subject: path });
    }
    return true;
  }
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new RootlessError(`--state-dir ${path}: not a directory${st.isSymbolicLink() ? ' (a symbolic link)' : ''}`, {
      step: 'state dir', code: 'ENOTDIR', subject: path,
    });
  }
  if (st.uid !== process.geteuid!()) {
    throw new RootlessError(`--state-dir ${path}: owned by uid ${st.uid}, not by you (uid ${process.geteuid!()})`, {
      step: 'state dir', code: 'EPERM', subject: path,
    });
  }
  // Kept private (0700), whatever it was: said, since the user chose the
  // mode. Writable by others is not refused: nothing is created in it
  // through what they could have planted (state-file.ts).
  const mode = st.mode & 0o7777;
  if (mode !== 0o700) {
    try {
      chmodSync(path, 0o700);
    } catch (err) {
      throw new RootlessError(`--state-dir ${path}: cannot make it private (mode 0700): ${errnoOf(err)}`, {
        step: 'state dir', code: errnoOf(err), subject: path,
      });
    }
    const others = mode & 0o022 ? ', writable by others' : '';
    onWarn?.(`--state-dir ${path} had mode 0${mode.toString(8)}${others}: changed to 0700`);
  }
  return false;
}

/**
 * The lock file is kept between sessions (a held lock must not be
 * replaced), so it is opened, not made anew; a symbolic link there is
 * removed (O_NOFOLLOW: ELOOP) and never followed.
 */
function openLock(lockPath: string): number {
  const flags = constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW;
  try {
    return openSync(lockPath, flags, 0o600);
  } catch (err) {
    if (errnoOf(err) !== 'ELOOP') throw err;
    removeEntry(lockPath);
    return openSync(lockPath, flags | constants.O_EXCL, 0o600);
  }
}

export function openStateDir(
  requested: string | undefined, onStale?: (files: string[]) => void, onWarn?: (msg: string) => void,
): StateDir {
  let path: string;
  let created: boolean;
  if (requested === undefined) {
    const base = defaultStateBase();
    try {
      path = mkdtempSync(join(base, 'rootless'));
    } catch (err) {
      throw new RootlessError(`cannot create a state dir in ${base}: ${errnoOf(err)}`, { step: 'state dir', code: errnoOf(err), subject: base });
    }
    created = true;
  } else {
    path = requested;
    created = prepareNamedDir(path, onWarn);
  }

  const lockPath = join(path, 'lock');
  let lockFd: number;
  try {
    lockFd = openLock(lockPath);
  } catch (err) {
    if (created) rmSync(path, { recursive: true, force: true });
    throw new RootlessError(`cannot open ${lockPath}: ${errnoOf(err)}`, { step: 'state dir lock', code: errnoOf(err), subject: lockPath });
  }
  if (!flock(lockFd, true, true)) {
    closeSync(lockFd);
    throw new RootlessError(`state dir ${path} is in use by another session (its lock is held)`, {
      step: 'state dir lock', code: 'EBUSY', subject: path,
      hint: 'stop that session first, or choose another --state-dir',
    });
  }

  // The lock was free: anything left here is from a session that was killed.
  if (!created) {
    const stale = readdirSync(path).filter((f) => STATE_FILES.includes(f) || TEMP_FILES.includes(f));
    for (const f of stale) rmSync(join(path, f), { force: true, recursive: false });
    if (stale.length > 0) onStale?.(stale);
  }

  const ours = new Set<string>();
  let done = false;
  return {
    path,
    created,
    writeFile(name, content, mode = 0o600) {
      // A new temp file (never through a planted link), renamed over the
      // name (which replaces a link there instead of following it).
      const tmp = join(path, `.${name}.tmp`);
      writeNewFile(tmp, content, mode);
      renameSync(tmp, join(path, name));
      ours.add(name);
    },
    track(name) {
      ours.add(name);
    },
    cleanup() {
      if (done) return;
      done = true;
      for (const name of ours) {
        try {
          unlinkSync(join(path, name));
        } catch {
          // already gone (the session may have removed it)
        }
      }
      try {
        unlinkSync(lockPath);
      } catch {
        // ignore
      }
      closeSync(lockFd);
      if (created && requested === undefined) {
        // Our own fresh temp dir: nothing in it is anyone else's.
        rmSync(path, { recursive: true, force: true });
      } else if (created) {
        try {
          rmdirSync(path);
        } catch {
          // not empty: something else wrote here; leave it
        }
      }
    },
  };
}
