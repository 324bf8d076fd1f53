// Named sessions (--name NAME) and the record `rootless exec` and
// `rootless ps` read. A named session's state dir is
// $XDG_RUNTIME_DIR/rootless/NAME (else /tmp/rootless-$UID/NAME); every
// session, named or not, writes `session.json` (0600) into its state dir
// once its target runs: the child's pid, the namespaces and their inodes,
// the drivers, and the target's environment.
import { envDelete } from '../sys/bytes.js';
import { chmodSync, closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RootlessError } from '../sys/errors.js';
import { flock } from '../sys/native.js';
import type { ChildNamespaces } from '../protocol/config.js';

export const SESSION_FILE = 'session.json';
export const SESSION_RECORD_VERSION = 2;

/** /proc/PID/ns names, in the order `rootless exec` joins them (user first: it gives the rights for the rest). */
export const NS_NAMES = ['user', 'mnt', 'net', 'pid', 'uts', 'ipc', 'cgroup'] as const;
export type NsName = (typeof NS_NAMES)[number];

export interface SessionRecord {
  version: number;
  name?: string;
  /** The launcher's pid. */
  pid: number;
  /** The child's pid (host view): its namespaces are the session's. */
  childPid: number;
  /** ms since the epoch. */
  startedAt: number;
  /** The namespaces the session created. */
  namespaces: NsName[];
  /** Inode of /proc/CHILD/ns/<ns> for each of them: tells a live session from a reused pid. */
  nsInodes: Partial<Record<NsName, number>>;
  net: string;
  portDriver: string;
  /** The target's environment entries, base64 of their bytes (no socket-activation variables). */
  envB64: string[];
  /** The target's cwd, base64 of its bytes. */
  cwdB64: string;
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'EIO';
}

/** Where named sessions live. */
export function sessionsBase(env: NodeJS.ProcessEnv = process.env, uid: number = process.geteuid!()): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/')) {
    try {
      const st = statSync(xdg);
      if (st.isDirectory() && st.uid === uid) return join(xdg, 'rootless');
    } catch {
      // fall through
    }
  }
  return `/tmp/rootless-${uid}`;
}

/** The base directory, made 0700 if missing; refused if it is not ours (someone could read or plant sessions). */
export function ensureSessionsBase(base: string, uid: number = process.geteuid!()): void {
  try {
    mkdirSync(base, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new RootlessError(`cannot create ${base}: ${errnoOf(err)}`, { step: 'sessions dir', code: errnoOf(err), subject: base });
  }
  const st = lstatSync(base);
  if (st.isSymbolicLink() || !st.isDirectory() || st.uid !== uid) {
    throw new RootlessError(`${base} is not a directory of yours (it must be owned by uid ${uid} and not a symlink)`, {
      step: 'sessions dir', code: 'EPERM', subject: base,
    });
  }
  if ((st.mode & 0o777) !== 0o700) chmodSync(base, 0o700);
}

/** State dir of session NAME (the name is validated by the flag parser). */
export function namedStateDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = sessionsBase(env);
  ensureSessionsBase(base);
  return join(base, name);
}

export function namespaceList(ns: ChildNamespaces): NsName[] {
  const out: NsName[] = ['user', 'mnt'];
  if (ns.net) out.push('net');
  if (ns.pid) out.push('pid');
  if (ns.uts) out.push('uts');
  if (ns.ipc) out.push('ipc');
  if (ns.cgroup) out.push('cgroup');
  return out;
}

/** Inodes of the child's namespace files, for the record. */
export function namespaceInodes(childPid: number, names: readonly NsName[]): Partial<Record<NsName, number>> {
  const out: Partial<Record<NsName, number>> = {};
  for (const n of names) {
    try {
      out[n] = statSync(`/proc/${childPid}/ns/${n}`).ino;
    } catch {
      // the child is gone; exec will say so
    }
  }
  return out;
}

// What systemd gives the unit's own process, not a command that joins the
// session later: socket activation, and the notify socket and watchdog
// (a `rootless exec` must not speak for the unit's daemon).
const UNIT_PROCESS_VARS = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'WATCHDOG_PID', 'WATCHDOG_USEC'];

export function recordEnvironment(env: readonly Buffer[]): Buffer[] {
  return envDelete(env, ...UNIT_PROCESS_VARS);
}

export function parseSessionRecord(text: string, where: string): SessionRecord {
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch {
    throw new RootlessError(`${where} is not valid JSON`, { step: 'read session', subject: where });
  }
  const o = r as Partial<SessionRecord>;
  if (
    typeof o !== 'object' || o === null || o.version !== SESSION_RECORD_VERSION || typeof o.childPid !== 'number' ||
    typeof o.pid !== 'number' || !Array.isArray(o.namespaces) || !Array.isArray(o.envB64) || typeof o.cwdB64 !== 'string' || typeof o.startedAt !== 'number'
  ) {
    throw new RootlessError(`${where} is not a session record of this version of rootless`, { step: 'read session', subject: where });
  }
  return o as SessionRecord;
}

/** True while a session holds the dir's lock. */
export function sessionAlive(stateDir: string): boolean {
  let fd: number;
  try {
    fd = openSync(join(stateDir, 'lock'), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    // A shared lock is granted only when no session holds it exclusively;
    // closing the fd releases it at once.
    return !flock(fd, false, true);
  } finally {
    closeSync(fd);
  }
}

export type SessionState =
  | { state: 'running'; dir: string; record: SessionRecord }
  | { state: 'starting'; dir: string }
  | { state: 'stopped'; dir: string };

export function readSession(stateDir: string): SessionState {
  if (!sessionAlive(stateDir)) return { state: 'stopped', dir: stateDir };
  let text: string;
  try {
    text = readFileSync(join(stateDir, SESSION_FILE), 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { state: 'starting', dir: stateDir };
    throw new RootlessError(`cannot read ${join(stateDir, SESSION_FILE)}: ${errnoOf(err)}`, {
      step: 'read session', code: errnoOf(err), subject: stateDir,
    });
  }
  return { state: 'running', dir: stateDir, record: parseSessionRecord(text, join(stateDir, SESSION_FILE)) };
}

/** Running (and starting) named sessions, by name. */
export function listSessions(base: string = sessionsBase()): SessionState[] {
  let names: string[];
  try {
    names = readdirSync(base).sort();
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw new RootlessError(`cannot list ${base}: ${errnoOf(err)}`, { step: 'list sessions', code: errnoOf(err), subject: base });
  }
  const out: SessionState[] = [];
  for (const n of names) {
    const s = readSession(join(base, n));
    if (s.state !== 'stopped') out.push(s);
  }
  return out;
}
