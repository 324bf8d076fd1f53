// Runs the real launcher (bin/rootless, the built bundle) as the test user.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync, readdirSync } from 'node:fs';
import type { TestUser } from './user.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = `${REPO}bin/rootless`;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  cwd?: string;
  /** argv[0] the launcher is started as (a path to a symlink, e.g. rootlesskit). */
  bin?: string;
  /** Wrap the launcher: e.g. ['setpriv', '--no-new-privs']. */
  wrapper?: string[];
  timeoutMs?: number;
  /** Leave stdin open for the test to write to. */
  keepStdin?: boolean;
}

/**
 * Variables every launcher started by this process gets unless the caller
 * overrides them: e2e.ts points XDG_RUNTIME_DIR and TMPDIR at directories of
 * this test run, so default and named state dirs of two runs never meet.
 */
const runDefaults = new Map<number, Record<string, string>>();
export function setRunEnv(user: TestUser, vars: Record<string, string>): void {
  runDefaults.set(user.uid, { ...runDefaults.get(user.uid), ...vars });
}

/** A clean environment for the test user (no root's HOME, no XDG of ours). */
export function userEnv(user: TestUser, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    LANG: 'C.UTF-8',
    ...runDefaults.get(user.uid),
  };
  if (process.env.ROOTLESS_NODE) env.ROOTLESS_NODE = process.env.ROOTLESS_NODE;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function start(user: TestUser, args: string[], opts: StartOptions = {}): ChildProcess {
  const bin = opts.bin ?? BIN;
  const [file, ...argv] = [...(opts.wrapper ?? []), bin, ...args];
  const child = spawn(file!, argv, {
    env: userEnv(user, opts.env),
    cwd: opts.cwd ?? '/tmp',
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {}),
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else if (!opts.keepStdin) child.stdin!.end();
  return child;
}

/**
 * Everything the launcher writes, once it has exited and its pipes closed.
 * Rejects (after SIGKILLing it) only if it is still running after
 * `timeoutMs`, a backstop for a hung launcher, not a wait. The promise never
 * counts as an unhandled rejection, so a test that fails elsewhere first
 * does not abort the file.
 */
export function collect(child: ChildProcess, timeoutMs = 90_000): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const p = new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`launcher did not finish in ${timeoutMs} ms; stdout=${stdout} stderr=${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  p.catch(() => {});
  return p;
}

export function run(user: TestUser, args: string[], opts: StartOptions = {}): Promise<RunResult> {
  return collect(start(user, args, opts), opts.timeoutMs);
}

/**
 * Resolves with everything read so far once `pattern` appears on the stream;
 * rejects as soon as the stream ends without it (the process exited), or,
 * as a backstop only, after `timeoutMs`. Never an unhandled rejection.
 */
export function waitFor(stream: NodeJS.ReadableStream, pattern: RegExp, timeoutMs = 90_000): Promise<string> {
  let seen = '';
  const p = new Promise<string>((resolve, reject) => {
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      if (err) reject(err);
      else resolve(seen);
    };
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(seen)}`)), timeoutMs);
    const onData = (d: Buffer | string): void => {
      seen += d.toString();
      if (pattern.test(seen)) finish();
    };
    const onEnd = (): void => finish(new Error(`the stream ended before ${pattern} appeared; got ${JSON.stringify(seen)}`));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    if ((stream as { readableEnded?: boolean }).readableEnded) onEnd();
  });
  p.catch(() => {});
  return p;
}

/** A process exists and is not a zombie. */
export async function alive(pid: number): Promise<boolean> {
  const { readFile } = await import('node:fs/promises');
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export async function eventually(check: () => Promise<boolean>, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** All descendants of a pid (from /proc), with their argv. */
export function descendants(pid: number): { pid: number; argv: string[] }[] {
  const parentOf = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parentOf.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: { pid: number; argv: string[] }[] = [];
  const walk = (p: number): void => {
    for (const [c, pp] of parentOf) {
      if (pp !== p) continue;
      let argv: string[] = [];
      try {
        argv = readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0').filter(Boolean);
      } catch {
        // gone
      }
      out.push({ pid: c, argv });
      walk(c);
    }
  };
  walk(pid);
  return out;
}
