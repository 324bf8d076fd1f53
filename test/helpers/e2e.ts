// What every end-to-end test file needs, in one place: who the launcher runs
// as (and one failing test saying why when nobody can), directories of this
// run, host ports from the kernel, unique session names, sessions that are
// started, waited for (on events) and always torn down, and a bound on how
// many launchers one file runs at once.
//
// Every directory a launcher of this run uses by default (its state dirs,
// named sessions, temporary files) is under one directory made for this
// test file and removed after it: two runs of the suite on one machine, or
// two files of one run, never share a path, a session name or a port.
import test, { type ExecutionContext } from 'ava';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, collect, run, setRunEnv, start, waitFor, type RunResult, type StartOptions } from './rootless.js';
import { launcherUser, type TestUser } from './user.js';
import { PortClash, clashOn, withPorts } from './sockets.js';

export * from './rootless.js';
export * from './user.js';
export * from './sockets.js';

// --- who ----------------------------------------------------------------------

const who = launcherUser();
/** Why the end-to-end tests cannot run here, or undefined when they can. */
export const noUser: string | undefined = typeof who === 'string' ? who : undefined;
if (noUser !== undefined) test('end-to-end environment', (t) => t.fail(noUser));
/** The user the launcher runs as (only meaningful when noUser is undefined). */
export const U = who as TestUser;

/** The port-target helper (test/helpers/port-target.ts), run inside sessions. */
export const TARGET = fileURLToPath(new URL('./port-target.js', import.meta.url));

// --- directories of this run -----------------------------------------------------

/** Root-owned, 0755: the test user traverses it to its own directories inside. */
export const RUN_DIR = mkdtempSync(join(tmpdir(), 'rootless-e2e-'));
chmodSync(RUN_DIR, 0o755);

function ownDir(path: string): string {
  mkdirSync(path, { mode: 0o700 });
  chmodSync(path, 0o700);
  if (U?.switchTo) chownSync(path, U.uid, U.gid);
  return path;
}

/** This run's XDG_RUNTIME_DIR and TMPDIR, the test user's, given to every launcher by default. */
export const RUNTIME_DIR = ownDir(join(RUN_DIR, 'xdg'));
export const RUN_TMP = ownDir(join(RUN_DIR, 'tmp'));
if (noUser === undefined) setRunEnv(U, { XDG_RUNTIME_DIR: RUNTIME_DIR, TMPDIR: RUN_TMP });

/**
 * Removes a tree, also one holding files of the user's sub-ids (which only
 * root, or the user inside a session, may remove).
 */
export function removeTree(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
    return;
  } catch (err) {
    if (process.getuid!() === 0 || noUser !== undefined) throw err;
  }
  spawnSync(BIN, ['run', '--', 'rm', '-rf', dir], { stdio: 'ignore' });
}

test.after.always('remove the directories of this run', () => {
  removeTree(RUN_DIR);
});

/** A fresh directory, 0755, owned by whoever runs the suite. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(RUN_DIR, prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** A fresh directory the test user owns (0700), for state dirs and scratch files. Removed after the test when given `t`, else with the run. */
export function userDir(prefix: string, t?: ExecutionContext): string {
  const dir = mkdtempSync(join(RUN_DIR, prefix));
  if (U.switchTo) chownSync(dir, U.uid, U.gid);
  if (t) t.teardown(() => removeTree(dir));
  return dir;
}

let names = 0;
/** A session name (--name) no other test of this or another run uses. */
export function uniqueName(prefix = 's'): string {
  return `${prefix}${process.pid}x${++names}x${Math.floor(Math.random() * 1e6)}`;
}

/** A unique numeric argument for `sleep`, to find that process on the host by its command line. */
export function marker(): string {
  return `${1000 + (process.pid % 1000)}.${++names}${Math.floor(Math.random() * 1e6)}`;
}

// --- how many at once --------------------------------------------------------------

/**
 * Launchers one test file runs at once. Ava runs the tests of a file
 * concurrently and `concurrency` files at a time; unbounded, a file starts
 * twenty sessions (with 64 MiB transfers) on a machine with two cores.
 */
export const JOBS = Math.max(1, Number(process.env.ROOTLESS_E2E_JOBS ?? 3));
let active = 0;
const waiting: (() => void)[] = [];
async function slot(): Promise<() => void> {
  if (active >= JOBS) await new Promise<void>((res) => waiting.push(res));
  else active++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
}

type Impl = (t: ExecutionContext) => Promise<void> | void;
function limited(impl: Impl): Impl {
  return async (t) => {
    const release = await slot();
    try {
      await impl(t);
    } finally {
      release();
    }
  };
}

/**
 * An end-to-end test: run when there is a launcher user (with at most JOBS
 * of this file at once), listed as skipped otherwise (the "end-to-end
 * environment" test then fails, saying why).
 */
export const e2e = Object.assign((title: string, impl: Impl): void => (noUser === undefined ? test(title, limited(impl)) : test.skip(title, impl)), {
  /** Runs alone, before the concurrent tests of the file. */
  serial: (title: string, impl: Impl): void => (noUser === undefined ? test.serial(title, impl) : test.skip(title, impl)),
});

/** A test that cannot run here, listed as skipped with the reason in its title (TAP: "# SKIP"). */
export function skip(title: string, why: string): void {
  test.skip(`${title} [skipped: ${why}]`, () => {});
}

/** `e2e` (or `e2e.serial`), or, when `why` says what is missing, `skip` with that reason. */
export function e2eUnless(why: string | undefined, opts: { serial?: boolean } = {}): (title: string, impl: Impl) => void {
  if (why !== undefined) return (title) => skip(title, why);
  return opts.serial ? e2e.serial : e2e;
}

// --- small things many files want --------------------------------------------------

export function lines(s: string): string[] {
  return s.trim().split('\n').filter((l) => l !== '');
}

/** Host pids whose command line has `arg` as one of its arguments. */
export function pidsWith(arg: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(arg)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

// --- sessions ------------------------------------------------------------------------

export interface SessionOptions {
  /** Launcher flags (before `--`). */
  flags?: string[];
  /** The target. Default: prints "ready" and sleeps. */
  command?: string[];
  /** What the target prints once the session is usable. Default /ready\n/. */
  ready?: RegExp;
  /** Extra environment for the launcher. */
  env?: Record<string, string | undefined>;
  /**
   * Where the state lives: 'dir' (default) a fresh --state-dir; 'default'
   * the launcher's own choice (under this run's XDG_RUNTIME_DIR); 'named' a
   * unique --name in an XDG_RUNTIME_DIR of this session alone (so `ps` and
   * `exec` see only it).
   */
  state?: 'dir' | 'default' | 'named';
  /** Host ports the session publishes: if it fails because one is taken, session() throws PortClash. */
  ports?: number[];
  /** Backstop for the whole session (ms). */
  timeoutMs?: number;
  startOptions?: StartOptions;
}

export interface Session {
  child: ChildProcess;
  /** The state dir given with --state-dir, or the named session's; undefined for 'default'. */
  stateDir: string | undefined;
  /** XDG_RUNTIME_DIR of the session. */
  runtime: string;
  /** --name, for 'named'. */
  name: string | undefined;
  /** What the target printed up to and including the ready line. */
  early: string;
  /** Settles when the launcher has exited (never rejects unhandled). */
  done: Promise<RunResult>;
  /** `rootless exec` into this named session (or by --state-dir). */
  exec(args: string[], extraEnv?: Record<string, string>): Promise<RunResult>;
  /** Signals the launcher (SIGTERM by default) and waits until it has exited. */
  stop(signal?: NodeJS.Signals): Promise<RunResult>;
}

/**
 * Starts a session and resolves once the target printed `ready`. Rejects
 * with the launcher's stderr if it ends before; with PortClash if that was
 * because a host port was taken (so withPorts can retry). The launcher is
 * SIGKILLed and its directories removed after the test, whatever happened.
 */
export async function session(t: ExecutionContext, opts: SessionOptions = {}): Promise<Session> {
  const state = opts.state ?? 'dir';
  const base = userDir('session-');
  let runtime = RUNTIME_DIR;
  let stateDir: string | undefined;
  let name: string | undefined;
  const stateFlags: string[] = [];
  if (state === 'dir') {
    stateDir = join(base, 'state');
    stateFlags.push('--state-dir', stateDir);
  } else if (state === 'named') {
    runtime = base;
    name = uniqueName();
    stateDir = join(runtime, 'rootless', name);
    stateFlags.push(`--name=${name}`);
  }
  const env = { XDG_RUNTIME_DIR: runtime, ...opts.env };
  const command = opts.command ?? ['sh', '-c', 'echo ready; exec sleep 600'];
  const child = start(U, ['run', ...stateFlags, ...(opts.flags ?? []), '--', ...command], { ...opts.startOptions, env });
  const done = collect(child, opts.timeoutMs ?? 600_000);
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await done.catch(() => {});
    removeTree(base);
  });
  let early: string;
  try {
    const ended = (r: RunResult): never => {
      if (clashOn(r.stderr, opts.ports ?? [])) throw new PortClash(`a host port was taken: ${r.stderr.trim()}`);
      throw new Error(`the session ended before it was ready: exit ${r.code} ${r.signal ?? ''}: ${r.stderr}`);
    };
    early = await Promise.race([
      // stdout usually ends before the exit is known: judge by the exit
      // (a port another process took is retried), not by the empty stream.
      waitFor(child.stdout!, opts.ready ?? /ready\n/).catch(async () => ended(await done)),
      done.then(ended),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    await done.catch(() => {});
    throw err;
  }
  return {
    child,
    stateDir,
    runtime,
    name,
    early,
    done,
    exec: (args, extraEnv = {}) => run(U, ['exec', ...args], { env: { XDG_RUNTIME_DIR: runtime, ...extraEnv } }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return done;
    },
  };
}

/**
 * A session whose target is port-target with `servers` (e.g. 'tcp-echo:80'),
 * publishing `nPorts` host ports from the kernel: `flags(ports)` gives the
 * launcher flags. Retries with other ports if one was taken meanwhile.
 */
export async function portSession(
  t: ExecutionContext,
  nPorts: number,
  flags: (ports: number[]) => string[],
  servers: string[],
  opts: SessionOptions = {},
): Promise<Session & { ports: number[] }> {
  return withPorts(nPorts, async (ports) => {
    const s = await session(t, { ...opts, ports, flags: flags(ports), command: opts.command ?? [process.execPath, TARGET, ...servers] });
    return { ...s, ports };
  });
}

/** `run`, with `nPorts` host ports from the kernel; retried if one was taken meanwhile. */
export async function runWithPorts(nPorts: number, args: (ports: number[]) => string[], opts: StartOptions = {}): Promise<RunResult & { ports: number[] }> {
  return withPorts(nPorts, async (ports) => {
    const r = await run(U, args(ports), opts);
    if (r.code !== 0 && clashOn(r.stderr, ports)) throw new PortClash(r.stderr);
    return { ...r, ports };
  });
}

/** True when the state dir exists (a convenience for cleanup assertions). */
export function exists(path: string | undefined): boolean {
  return path !== undefined && existsSync(path);
}
