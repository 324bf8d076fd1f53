// openSession(): one long-lived launcher whose target is the session agent
// (agent.ts), so that each run() costs a request on one persistent
// connection and one spawn inside the namespaces instead of a whole
// launcher start; each spawn() a connection that hands over its stdio fds.
// The launcher runs as its own process, as in run(): it owns its signals
// and its children's lifetimes. Its stdin is a pipe from us; the agent ends
// the session at its EOF, so the session dies with the caller, even when
// the caller is SIGKILLed.
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { RootlessError } from '../sys/errors.js';
import { close as closeFd, connectUnix, sendFds } from '../sys/native.js';
import type { RunRequest, RunResponse } from './protocol.js';
import { currentNofileSoft } from '../sys/nofile.js';
import { launcherFailure } from './failure.js';
import { SessionProcess, type SessionSpawnOptions } from './process.js';

export interface SessionRunOptions {
  /** Working directory inside the session (default: the session's). */
  cwd?: string;
  /** Added to the session's environment. */
  env?: Record<string, string>;
  /** The command's stdin (closed after it; empty by default). */
  input?: string | Buffer;
}

export interface SessionResult {
  /** Exit code, null when killed by a signal; 127/126 when the command could not be started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Session {
  /** Runs a command as uid 0 in the session's namespaces. A non-zero exit is a result, not an error. */
  run(command: readonly string[], options?: SessionRunOptions): Promise<SessionResult>;
  /**
   * Starts a command as uid 0 in the session's namespaces and returns at
   * once: a ChildProcess-like handle ('spawn', 'exit', 'close', 'error';
   * stdin/stdout/stderr for 'pipe'; kill()). The stdio is handed over as
   * fds. Throws RootlessError when the session is closed or gone.
   */
  spawn(command: readonly string[], options?: SessionSpawnOptions): SessionProcess;
  /** `rm -rf -- dir` inside the session: removes files owned by sub-ids. */
  removeTree(dir: string): Promise<void>;
  /** Kills what still runs, ends the launcher, waits; the state dir is gone afterwards. */
  close(): Promise<void>;
  /** The launcher's pid (as the caller sees it). */
  readonly pid: number;
  /** The session's state dir (removed when the session ends). */
  readonly stateDir: string;
}

export interface LauncherStart {
  bin: string;
  argv: (command: string[]) => string[];
  cwd?: string;
  env: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

const AGENT = fileURLToPath(new URL('./agent.js', import.meta.url));

/** Why the launcher ended before the agent said it was ready. */
function launcherError(code: number | null, signal: NodeJS.Signals | null, stderr: string): RootlessError {
  const typed = launcherFailure(code, stderr);
  if (typed) return typed;
  const text = stderr.trim().split('\n').slice(-3).join('; ');
  const exit = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  return new RootlessError(`the session launcher ${exit} before the session was ready${text ? `: ${text}` : ''}`, { step: 'open session' });
}

export async function startSession(start: LauncherStart): Promise<Session> {
  // The agent is node, which raises its soft fd limit: it gives its
  // commands ours, as run() gives its target (src/sys/nofile.ts).
  const nofile = currentNofileSoft();
  const agentArgv = [process.execPath, AGENT, ...(nofile === undefined ? [] : [`--nofile=${nofile}`])];
  const child: ChildProcess = spawnProcess(start.bin, start.argv(agentArgv), {
    cwd: start.cwd,
    env: start.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(start.uid === undefined ? {} : { uid: start.uid }),
    ...(start.gid === undefined ? {} : { gid: start.gid }),
  });
  const exited = new Promise<void>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res();
    else child.once('exit', () => res());
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-65536);
  });
  child.stdin!.on('error', () => {});
  const socketPath = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: string): void => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume(); // the agent writes nothing more; commands' output goes over the socket
      try {
        resolve((JSON.parse(out.slice(0, nl)) as { ready: string }).ready);
      } catch {
        reject(new RootlessError(`the session agent said ${JSON.stringify(out.slice(0, nl))}`, { step: 'open session', code: 'EPROTO' }));
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(new RootlessError(`cannot start ${start.bin}: ${err.code ?? err.message}`, { step: 'spawn launcher', ...(err.code ? { code: err.code } : {}), cause: err })));
    child.once('close', (code, signal) => reject(launcherError(code, signal, stderr)));
  });
  // A forgotten session must not keep the caller alive; the caller's exit ends it (stdin EOF).
  const streams = [child.stdin, child.stdout, child.stderr] as unknown as { ref?: () => void; unref?: () => void }[];
  child.unref();
  for (const s of streams) s.unref?.();

  let closing: Promise<void> | undefined;

  // run() calls share one connection, opened now (the agent reads its
  // opening line natively: src/sys/native.ts).
  const runs = openRunChannel(socketPath);
  const live = new Set<SessionProcess>();

  function request(req: Omit<RunRequest, 'id'>): Promise<SessionResult> {
    if (closing) return Promise.reject(new RootlessError('the session is closed', { step: 'session run', code: 'ESHUTDOWN' }));
    return runs.request(req);
  }

  return {
    pid: child.pid!,
    stateDir: dirname(socketPath),
    run(command, options = {}) {
      if (command.length === 0) return Promise.reject(new TypeError('rootless: the command must not be empty'));
      return request({
        argv: [...command],
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.input === undefined ? {} : { input: Buffer.from(options.input).toString('base64') }),
      });
    },
    spawn(command, options = {}) {
      if (command.length === 0) throw new TypeError('rootless: the command must not be empty');
      if (closing) throw new RootlessError('the session is closed', { step: 'session spawn', code: 'ESHUTDOWN' });
      const p = new SessionProcess(socketPath, [...command], options);
      live.add(p);
      void p.exited.then(() => live.delete(p));
      return p;
    },
    async removeTree(dir) {
      const r = await request({ argv: ['rm', '-rf', '--', dir] });
      if (r.code !== 0) {
        throw new RootlessError(`cannot remove ${dir}: ${r.stderr.trim() || `rm exited with ${r.code ?? r.signal}`}`, { step: 'remove tree', subject: dir });
      }
    },
    close() {
      closing ??= (async () => {
        // Waiting for the launcher must keep the caller alive.
        child.ref();
        for (const s of streams) s.ref?.();
        child.stdin!.end();
        await exited;
        // The agent told each before it exited; their 'exit' has been emitted.
        await Promise.all([...live].map((p) => p.exited));
        runs.close();
      })();
      return closing;
    },
  };
}

interface RunChannel {
  request(req: Omit<RunRequest, 'id'>): Promise<SessionResult>;
  close(): void;
}

function openRunChannel(socketPath: string): RunChannel {
  const fd = connectUnix(socketPath);
  try {
    sendFds(fd, Buffer.from(`${JSON.stringify({ op: 'runs' })}\n`), []);
  } catch (err) {
    closeFd(fd);
    throw err;
  }
  const conn = new Socket({ fd, readable: true, writable: true });
  const pending = new Map<number, { resolve: (r: SessionResult) => void; reject: (e: Error) => void }>();
  let next = 1;
  let gone: RootlessError | undefined;
  // Only calls in flight keep the caller alive.
  conn.unref();
  conn.setEncoding('utf8');
  let buf = '';
  conn.on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let res: RunResponse;
      try {
        res = JSON.parse(line) as RunResponse;
      } catch {
        continue;
      }
      const p = pending.get(res.id);
      if (!p) continue;
      pending.delete(res.id);
      if (pending.size === 0) conn.unref();
      if ('error' in res) p.reject(new RootlessError(res.error.message, { step: 'session run', code: res.error.code }));
      else {
        p.resolve({
          code: res.code,
          signal: res.signal,
          stdout: Buffer.from(res.stdout, 'base64').toString('utf8'),
          stderr: Buffer.from(res.stderr, 'base64').toString('utf8'),
        });
      }
    }
  });
  const fail = (err?: NodeJS.ErrnoException): void => {
    gone ??= err
      ? new RootlessError(`the session is gone: ${err.code ?? err.message}`, { step: 'session run', code: err.code ?? 'EIO', subject: socketPath, cause: err })
      : new RootlessError('the session ended while the command ran', { step: 'session run', code: 'ECONNRESET', subject: socketPath });
    for (const p of pending.values()) p.reject(gone);
    pending.clear();
  };
  conn.on('error', fail);
  conn.on('close', () => fail());
  return {
    request(req) {
      if (gone) return Promise.reject(gone);
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        if (pending.size === 1) conn.ref();
        conn.write(`${JSON.stringify({ id, ...req })}\n`);
      });
    },
    close() {
      conn.destroy();
    },
  };
}
