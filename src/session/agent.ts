// The session agent: the target of an openSession() launcher, running as
// uid 0 inside the session's namespaces. It listens on a unix socket in the
// state dir (0600: created under umask 077) and starts commands for the
// client (src/session/client.ts; the wire: protocol.ts):
// - one persistent connection carries run() calls: request lines in,
//   result lines (whole output) out, many in flight;
// - each spawn() is a connection of its own whose opening line comes with
//   the caller's stdio fds (SCM_RIGHTS); the command gets exactly those as
//   0, 1, 2 and nothing else of ours (the addon's spawn closes the rest).
// Its stdin is a pipe from the caller: EOF (close(), or the caller died,
// even by SIGKILL) kills what still runs, waits for it, tells the clients,
// and ends the session, so the launcher exits and removes its state dir.
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { chmodSync, openSync, unlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { SyscallError, errorMessage } from '../sys/errors.js';
import { close, pidfdSendSignal, pipe2, recvFds, spawn } from '../sys/native.js';
import { signalName, signalNumber } from '../sys/signals.js';
import { DEFAULT_PATH } from '../sys/command.js';
import { parseNofileSoft } from '../sys/nofile.js';
import { MAX_REQUEST_BYTES, type RunRequest, type RunResponse, type SpawnControl, type SpawnEvent, type SpawnRequest } from './protocol.js';

const stateDir = process.env.ROOTLESSKIT_STATE_DIR;
if (!stateDir) {
  process.stderr.write('rootless session agent: ROOTLESSKIT_STATE_DIR is not set\n');
  process.exit(125);
}
const socketPath = join(stateDir, 'session.sock');
// The soft fd limit of the session's caller (client.ts), not the one our
// node raised: programs that use select(2) break on fds above 1023.
const nofileArg = process.argv.slice(2).find((a) => a.startsWith('--nofile='));
const nofileSoft = parseNofileSoft(nofileArg?.slice('--nofile='.length));
// The commands see the session's environment, not the agent's own variables.
const baseEnv: NodeJS.ProcessEnv = { ...process.env };
process.umask(0o077);
// stdin of a run() without input, and of a spawn() with 'ignore'.
const devNull = openSync('/dev/null', 'r+');
/** How long the agent waits for a connection's opening line, which the client sends with its connect. */
const OPENING_TIMEOUT_MS = 10_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A command that could not be started, as a shell would say it (127 not found, 126 not executable). */
class Refused {
  constructor(readonly message: string, readonly code: string, readonly exitCode: number) {}
}

interface Job {
  kill(sig: number): boolean;
  exited: Promise<Exit>;
}

const running = new Set<Job>();
/** run() results on their way out: end() sends them before exiting. */
const answering = new Set<Promise<void>>();
const connections = new Set<Socket>();
let ending = false;

function start(argv: string[], cwd: string | undefined, env: Record<string, string> | undefined, fds: [number, number, number], tty = false): { pid: number; job: Job } {
  const merged: NodeJS.ProcessEnv = { ...baseEnv, ...env };
  let onExit!: (e: Exit) => void;
  const exited = new Promise<Exit>((res) => (onExit = res));
  let spawned;
  try {
    spawned = spawn(
      {
        file: argv[0]!,
        argv,
        envp: Object.entries(merged).map(([k, v]) => `${k}=${v ?? ''}`),
        ...(cwd === undefined ? {} : { cwd }),
        fds,
        searchPath: merged.PATH ?? DEFAULT_PATH,
        // The command must not outlive the session.
        pdeathsig: signalNumber('SIGKILL'),
        ...(nofileSoft === undefined ? {} : { nofileSoft }),
        // A terminal of its own: setsid, and fd 0 its controlling terminal (job control, ^C).
        ...(tty ? { controllingTty: 0 } : {}),
      },
      (_err, status) => onExit({ code: status.code, signal: status.signal === null ? null : (signalName(status.signal) as NodeJS.Signals) }),
    );
  } catch (err) {
    if (err instanceof SyscallError && (err.step === 'execve' || err.step === 'chdir')) {
      const code = err.code ?? 'ENOENT';
      const notFound = code === 'ENOENT' || code === 'ENOTDIR';
      const what = err.step === 'chdir' ? `${argv[0]} (in ${cwd})` : argv[0];
      throw new Refused(`rootless: ${what}: ${notFound && err.step === 'execve' ? 'command not found' : code}`, code, notFound ? 127 : 126);
    }
    throw err;
  }
  // Signals go through the pidfd until the exit, then it is closed: a reused pid is never hit.
  let gone = false;
  const pidfd = spawned.pidfd;
  void exited.then(() => {
    gone = true;
    close(pidfd);
  });
  const job: Job = { kill: (sig) => !gone && pidfdSendSignal(pidfd, sig), exited };
  running.add(job);
  void exited.then(() => running.delete(job));
  return { pid: spawned.pid, job };
}

/** Reads a pipe's read end to its EOF. */
function drain(fd: number): Promise<Buffer> {
  const s = new Socket({ fd, readable: true, writable: false });
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return new Promise((res) => {
    s.on('error', () => res(Buffer.concat(parts)));
    s.on('end', () => res(Buffer.concat(parts)));
  });
}

async function runOne(req: RunRequest): Promise<RunResponse> {
  if (ending) return { id: req.id, error: { message: 'the session is closing', code: 'ESHUTDOWN' } };
  const opened: number[] = [];
  const pipe = (): [number, number] => {
    const p = pipe2();
    opened.push(...p);
    return p;
  };
  let outR: number, outW: number, errR: number, errW: number, inR: number, inW: number;
  try {
    [outR, outW] = pipe();
    [errR, errW] = pipe();
    [inR, inW] = req.input === undefined ? [devNull, -1] : pipe();
  } catch (err) {
    for (const fd of opened) close(fd); // out of fds: nothing of this run stays open
    throw err;
  }
  let started;
  try {
    started = start(req.argv, req.cwd, req.env, [inR, outW, errW]);
  } catch (err) {
    for (const fd of [outR, errR, inW]) if (fd >= 0) close(fd);
    if (!(err instanceof Refused)) throw err;
    return { id: req.id, code: err.exitCode, signal: null, stdout: '', stderr: Buffer.from(`${err.message}\n`).toString('base64') };
  } finally {
    for (const fd of [outW, errW]) close(fd);
    if (inR !== devNull) close(inR);
  }
  if (inW >= 0) {
    const w = new Socket({ fd: inW, readable: false, writable: true });
    w.on('error', () => {}); // the command may exit without reading its input
    w.end(Buffer.from(req.input!, 'base64'));
  }
  const [exit, out, errOut] = await Promise.all([started.job.exited, drain(outR), drain(errR)]);
  return { id: req.id, ...exit, stdout: out.toString('base64'), stderr: errOut.toString('base64') };
}

function lines(conn: Socket, first: Buffer, onLine: (line: string) => void): void {
  let buf = first.toString('utf8');
  const flush = (): void => {
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      onLine(line);
    }
  };
  conn.setEncoding('utf8');
  conn.on('data', (d: string) => {
    buf += d;
    flush();
  });
  flush();
  conn.resume();
}

function send(conn: Socket, msg: RunResponse | SpawnEvent): void {
  if (!conn.destroyed) conn.write(`${JSON.stringify(msg)}\n`);
}

function serveRuns(conn: Socket, rest: Buffer): void {
  lines(conn, rest, (line) => {
    let req: RunRequest;
    try {
      req = JSON.parse(line) as RunRequest;
    } catch {
      return send(conn, { id: -1, error: { message: 'bad request', code: 'EINVAL' } });
    }
    if (!validArgv(req.argv)) return send(conn, { id: req.id, error: { message: 'bad request: argv must be a non-empty list of strings', code: 'EINVAL' } });
    const answer = runOne(req).then(
      (res) => send(conn, res),
      (err: unknown) => send(conn, { id: req.id, error: { message: errorMessage(err), code: (err as { code?: string }).code ?? 'EIO' } }),
    );
    answering.add(answer);
    void answer.then(() => answering.delete(answer));
  });
}

function serveSpawn(conn: Socket, req: SpawnRequest, fds: number[]): void {
  const given = [...fds];
  const stdio = req.stdio.map((s) => (s === 'fd' ? given.shift() : devNull)) as [number, number, number];
  let started;
  try {
    if (ending) throw new Refused('the session is closing', 'ESHUTDOWN', 125);
    if (stdio.some((fd) => fd === undefined) || given.length > 0) throw new Refused('the fds do not match stdio', 'EINVAL', 125);
    started = start(req.argv, req.cwd, req.env, stdio, req.tty === true);
  } catch (err) {
    if (err instanceof Refused) send(conn, { refused: { message: err.message, code: err.code, exitCode: err.exitCode } });
    else send(conn, { error: { message: errorMessage(err), code: (err as { code?: string }).code ?? 'EIO' } });
    conn.end();
    return;
  } finally {
    // The command has its copies: ours would hold its pipes open.
    for (const fd of fds) close(fd);
  }
  const { pid, job } = started;
  send(conn, { started: pid });
  let done = false;
  lines(conn, Buffer.alloc(0), (line) => {
    try {
      const ctl = JSON.parse(line) as SpawnControl;
      if (typeof ctl.kill === 'string' && Object.hasOwn(constants.signals, ctl.kill)) job.kill(signalNumber(ctl.kill));
    } catch {
      // not ours: ignored
    }
  });
  // The caller let go of the handle (or died): nothing runs unobserved.
  conn.on('close', () => {
    if (!done) job.kill(signalNumber('SIGKILL'));
  });
  void job.exited.then((exit) => {
    done = true;
    send(conn, { exit });
    conn.end();
  });
}

function validArgv(argv: unknown): argv is string[] {
  return Array.isArray(argv) && argv.length > 0 && argv.every((a) => typeof a === 'string');
}

/** The opening line, read before Node reads the connection: the fds come with it. */
function opening(conn: Socket): { line: string; rest: Buffer; fds: number[] } | undefined {
  const fd = (conn as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  const fds: number[] = [];
  let buf = Buffer.alloc(0);
  for (;;) {
    let r;
    try {
      r = recvFds(fd, 65536, OPENING_TIMEOUT_MS);
    } catch {
      r = null;
    }
    if (r) fds.push(...r.fds);
    if (!r || r.data.length === 0 || buf.length + r.data.length > MAX_REQUEST_BYTES) {
      for (const f of fds) close(f);
      return undefined;
    }
    buf = Buffer.concat([buf, r.data]);
    const nl = buf.indexOf(10);
    if (nl >= 0) return { line: buf.subarray(0, nl).toString('utf8'), rest: buf.subarray(nl + 1), fds };
  }
}

const server = createServer({ pauseOnConnect: true }, (conn) => {
  conn.on('error', () => {});
  const open = opening(conn);
  if (!open) return void conn.destroy();
  connections.add(conn);
  conn.on('close', () => connections.delete(conn));
  let req: { op?: string; argv?: unknown; stdio?: unknown };
  try {
    req = JSON.parse(open.line) as typeof req;
  } catch {
    req = {};
  }
  if (req.op === 'runs' && open.fds.length === 0) return serveRuns(conn, open.rest);
  if (req.op === 'spawn' && validArgv(req.argv) && Array.isArray(req.stdio) && req.stdio.length === 3) {
    return serveSpawn(conn, req as unknown as SpawnRequest, open.fds);
  }
  for (const f of open.fds) close(f);
  send(conn, { error: { message: 'bad request', code: 'EINVAL' } });
  conn.end();
});

async function end(): Promise<void> {
  if (ending) return;
  ending = true;
  server.close();
  const gone = [...running].map((j) => j.exited);
  for (const j of running) j.kill(signalNumber('SIGKILL'));
  await Promise.all(gone);
  // Let the clients read how their commands ended before we exit.
  await Promise.all(answering);
  await new Promise((res) => setImmediate(res));
  await Promise.all(
    [...connections].map(
      (c) => new Promise<void>((res) => {
        if (c.destroyed || c.writableFinished) return res();
        c.once('close', () => res());
        c.end(() => res());
      }),
    ),
  );
  try {
    unlinkSync(socketPath);
  } catch {
    // already gone
  }
  process.exit(0);
}

process.stdin.on('end', () => void end());
process.stdin.on('error', () => void end());
process.stdin.resume();
process.on('SIGTERM', () => void end());
process.on('SIGINT', () => void end());

server.listen(socketPath, () => {
  chmodSync(socketPath, 0o600); // bind made it 0777 & ~umask; a socket needs no x
  process.stdout.write(`${JSON.stringify({ ready: socketPath })}\n`);
});
