// The session agent: the target of an openSession() launcher, running as
// uid 0 inside the session's namespaces. It listens on a unix socket in the
// state dir (0600: created under umask 077) and runs one command per
// connection: a request line (JSON) in, a result line (JSON) out.
// Its stdin is a pipe from the caller: EOF (close(), or the caller died,
// even by SIGKILL) kills what still runs, waits for it, and ends the
// session, so the launcher exits and removes its state dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { chmodSync, unlinkSync } from 'node:fs';
import type { AgentRequest, AgentResponse } from './protocol.js';

const stateDir = process.env.ROOTLESSKIT_STATE_DIR;
if (!stateDir) {
  process.stderr.write('rootless session agent: ROOTLESSKIT_STATE_DIR is not set\n');
  process.exit(125);
}
const socketPath = join(stateDir, 'session.sock');
// The commands see the session's environment, not the agent's own variables.
const baseEnv: NodeJS.ProcessEnv = { ...process.env };
process.umask(0o077);

const running = new Set<ChildProcess>();
let ending = false;

function respond(conn: Socket, res: AgentResponse): void {
  conn.end(`${JSON.stringify(res)}\n`);
}

function handle(conn: Socket, req: AgentRequest): void {
  if (ending) return respond(conn, { error: { message: 'the session is closing', code: 'ESHUTDOWN' } });
  const child = spawn(req.argv[0]!, req.argv.slice(1), {
    cwd: req.cwd,
    env: { ...baseEnv, ...req.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  child.stdin!.on('error', () => {}); // the command may exit without reading its input
  child.stdin!.end(req.input === undefined ? undefined : Buffer.from(req.input, 'base64'));
  let failed: NodeJS.ErrnoException | undefined;
  child.on('error', (e: NodeJS.ErrnoException) => (failed = e));
  child.on('close', (code, signal) => {
    running.delete(child);
    if (failed && child.pid === undefined) {
      // Not started: as a shell (and `rootless run`) would say it.
      const notFound = failed.code === 'ENOENT';
      const why = notFound && req.cwd !== undefined ? `${req.argv[0]} (in ${req.cwd})` : req.argv[0];
      return respond(conn, {
        code: notFound ? 127 : 126, signal: null, stdout: '',
        stderr: Buffer.from(`rootless: ${why}: ${failed.code ?? failed.message}\n`).toString('base64'),
      });
    }
    respond(conn, { code, signal, stdout: Buffer.concat(out).toString('base64'), stderr: Buffer.concat(err).toString('base64') });
  });
}

const server = createServer((conn) => {
  let buf = '';
  conn.setEncoding('utf8');
  conn.on('error', () => {});
  conn.on('data', (d: string) => {
    buf += d;
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    conn.removeAllListeners('data');
    let req: AgentRequest;
    try {
      req = JSON.parse(buf.slice(0, nl)) as AgentRequest;
      if (!Array.isArray(req.argv) || req.argv.length === 0 || !req.argv.every((a) => typeof a === 'string')) throw new Error('argv');
    } catch {
      return respond(conn, { error: { message: 'bad request', code: 'EINVAL' } });
    }
    handle(conn, req);
  });
});

async function end(): Promise<void> {
  if (ending) return;
  ending = true;
  server.close();
  const gone = [...running].map((c) => new Promise((res) => c.once('close', res)));
  for (const c of running) c.kill('SIGKILL');
  await Promise.all(gone);
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
