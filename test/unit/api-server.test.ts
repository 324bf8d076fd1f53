// The REST API server on a real unix socket: every method gets a status
// line (CONNECT and Upgrade too), and idle, slow or surplus clients are
// disconnected by the server, so they cannot hold the launcher's fds.
import test from 'ava';
import { connect, type Socket } from 'node:net';
import { lstatSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, DEFAULT_API_LIMITS, type ApiLimits, type ApiServer } from '../../src/api/server.js';
import { createLogger } from '../../src/cli/log.js';

const log = createLogger('silent');
const backend = { version: '9.9.9', stateDir: '/run/x', childPID: 42 };

async function serve(t: { teardown(f: () => unknown): void }, limits: Partial<ApiLimits> = {}): Promise<{ dir: string; server: ApiServer }> {
  const dir = mkdtempSync(join(tmpdir(), 'rootless-apiserver-'));
  const server = await startApiServer(dir, backend, log, { ...DEFAULT_API_LIMITS, ...limits });
  t.teardown(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, server };
}

/** Sends `raw`, resolves with everything received until the server closes. */
function exchange(path: string, raw: string, opts: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    s.on('error', reject);
    s.on('end', () => resolve(got));
    s.on('close', () => resolve(got));
    if (opts.end) s.end(raw);
    else s.write(raw);
  });
}

const fds = (): number => readdirSync('/proc/self/fd').length;

/**
 * The server runs in this process: resolves with what a client that never
 * ends its side (allowHalfOpen) read, once the server has released its fd
 * of the connection; a server that only half-closes (FIN, fd kept) never
 * does, and the test times out. `before` is the fd count before connecting.
 * The tests that use it run serially, so no other test opens fds meanwhile.
 */
async function closedByServer(s: Socket, before: number): Promise<string> {
  let got = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => (got += d));
  s.on('error', () => {});
  await new Promise<void>((resolve) => {
    s.on('end', () => resolve());
    s.on('close', () => resolve());
  });
  // Only the client's own fd is left when the server has let go.
  while (fds() > before + (s.destroyed ? 0 : 1)) await new Promise((r) => setImmediate(r));
  return got;
}

const halfOpen = (path: string): Socket => connect({ path, allowHalfOpen: true });

test('CONNECT gets a 405 status line, and the server closes', async (t) => {
  const { server } = await serve(t);
  const reply = await exchange(server.path, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  t.regex(reply, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
  t.regex(reply, /\r\nAllow: GET, POST, DELETE\r\n/);
  t.regex(reply, /"message":"method CONNECT is not allowed/);
});

test('an Upgrade request gets a 405, not a dropped connection', async (t) => {
  const { server } = await serve(t);
  const reply = await exchange(
    server.path,
    'GET /v1/info HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  t.regex(reply, /^HTTP\/1\.1 405 /);
  t.regex(reply, /method GET is not allowed/);
});

test('unknown and unserved methods each get a status line', async (t) => {
  const { server } = await serve(t);
  const cases: [string, RegExp][] = [
    ['FOO', /^HTTP\/1\.1 405 /],
    ['BREW', /^HTTP\/1\.1 405 /],
    ['PATCH', /^HTTP\/1\.1 405 /],
    ['OPTIONS', /^HTTP\/1\.1 405 /],
    ['TRACE', /^HTTP\/1\.1 405 /],
    ['PROPFIND', /^HTTP\/1\.1 405 /],
    ['HEAD', /^HTTP\/1\.1 405 /],
  ];
  for (const [method, re] of cases) {
    const reply = await exchange(server.path, `${method} /v1/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { end: true });
    t.regex(reply, re, method);
  }
  // The API still serves.
  const ok = await exchange(server.path, 'GET /v1/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { end: true });
  t.regex(ok, /^HTTP\/1\.1 200 /);
});

test.serial('a client that sends nothing is disconnected by the server', async (t) => {
  const { server } = await serve(t, { headersTimeoutMs: 300, requestTimeoutMs: 300, idleTimeoutMs: 300 });
  const before = fds();
  const s = halfOpen(server.path);
  // Resolves only if the server closes its end: the client never does.
  const reply = await closedByServer(s, before);
  t.log(JSON.stringify(reply));
  t.notRegex(reply, /^HTTP\/1\.1 200/);
  s.destroy();
});

test.serial('a client that stalls in its headers gets a status line and is disconnected', async (t) => {
  const { server } = await serve(t, { headersTimeoutMs: 300, requestTimeoutMs: 300, idleTimeoutMs: 60_000 });
  const before = fds();
  const s = halfOpen(server.path);
  s.write('GET /v1/info HTTP/1.1\r\nHost: x\r\n');
  // The client never finishes and never closes: the server must.
  const reply = await closedByServer(s, before);
  t.regex(reply, /^HTTP\/1\.1 40[08] /);
  s.destroy();
});

test.serial('an idle keep-alive connection is closed by the server', async (t) => {
  const { server } = await serve(t, { idleTimeoutMs: 300 });
  const before = fds();
  const s = halfOpen(server.path);
  const closed = closedByServer(s, before);
  s.write('GET /v1/info HTTP/1.1\r\nHost: x\r\n\r\n');
  const reply = await closed;
  t.regex(reply, /^HTTP\/1\.1 200 /);
  s.destroy();
});

test.serial('connections past the limit are closed at once; the API serves again when clients leave', async (t) => {
  const { server } = await serve(t, { maxConnections: 4 });
  const held: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = connect(server.path);
    s.on('error', () => {});
    // Each is served once, so the server has surely accepted it.
    const r = await new Promise<string>((resolve) => {
      s.once('data', (d) => resolve(d.toString()));
      s.write('GET /v1/info HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    t.regex(r, /^HTTP\/1\.1 200 /);
    held.push(s);
  }
  const before = fds();
  const extra = halfOpen(server.path);
  extra.on('error', () => {});
  extra.write('GET /v1/info HTTP/1.1\r\nHost: x\r\n\r\n');
  t.is(await closedByServer(extra, before), '', 'the fifth is closed without being served');
  extra.destroy();
  const gone = held.pop()!;
  await new Promise<void>((resolve) => {
    gone.on('close', () => resolve());
    gone.destroy();
  });
  // The server sees the close asynchronously: retry until a slot is free.
  let ok = '';
  while (!/^HTTP\/1\.1 200 /.test(ok)) {
    ok = await exchange(server.path, 'GET /v1/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { end: true }).catch(() => '');
  }
  t.regex(ok, /^HTTP\/1\.1 200 /);
  for (const s of held) s.destroy();
});

test('api.sock is 0600 and a planted link at its temporary name is not followed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootless-apiserver-'));
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious');
  symlinkSync(victim, join(dir, '.api.sock.tmp'));
  const server = await startApiServer(dir, backend, log);
  try {
    t.true(lstatSync(server.path).isSocket());
    t.is(lstatSync(server.path).mode & 0o777, 0o600);
    t.is(readFileSync(victim, 'utf8'), 'precious');
    t.true(lstatSync(victim).isFile());
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
