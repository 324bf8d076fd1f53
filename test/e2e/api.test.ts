// End-to-end: the REST API on api.sock (RootlessKit's v1), its clients
// (`rootless info`, `rootless ports`, `rootless ctl`, Debian's rootlessctl),
// against real sessions of the unprivileged user, on host ports the kernel picks.
import test, { type ExecutionContext } from 'ava';
import { request } from 'node:http';
import { connect as netConnect, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  BIN, PortClash, clashOn, U, e2e, e2eUnless, eventually, portSession, refused, run, runWithPorts, session as startSession, userEnv, withPorts, type Session as Running,
} from '../helpers/e2e.js';

const hasRootlessctl = spawnSync('sh', ['-c', 'command -v rootlessctl']).status === 0;
if (!hasRootlessctl) test('rootlessctl is installed', (t) => t.fail('rootlessctl missing: install the rootlesskit package (scripts/setup-test-env.sh does)'));
const withRootlessctl = e2eUnless(hasRootlessctl ? undefined : 'rootlessctl is not installed');

interface Session extends Running {
  stateDir: string;
  sock: string;
  ports: number[];
}

/** A builtin-driver session with port-target's `servers`, publishing `nPorts` kernel-chosen host ports as `specs(ports)`. */
async function session(t: ExecutionContext, nPorts: number, specs: (ports: number[]) => string[], servers: string[]): Promise<Session> {
  const s = await portSession(t, nPorts, (ports) => ['--net=none', '--port-driver=builtin', ...specs(ports).flatMap((p) => ['-p', p])], servers);
  return { ...s, stateDir: s.stateDir!, sock: join(s.stateDir!, 'api.sock') };
}

/** A port the test publishes at runtime turned out to be taken by someone else: start over with other ports. */
function clashed(what: string, status: number | null, text: string, ports: number[]): void {
  if (status !== 0 && status !== 201 && clashOn(text, ports)) throw new PortClash(`${what}: ${text}`);
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: unknown;
}

function http(sock: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method, path, headers: { Host: 'rootlesskit', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function echo(port: number, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => (got += d.toString()));
    c.on('end', () => resolve(got));
    c.on('error', reject);
    c.end(msg);
  });
}

e2e('GET /v1/info describes the session as RootlessKit does', async (t) => {
  const s = await session(t, 0, () => [], ['tcp-echo:80']);
  const r = await http(s.sock, 'GET', '/v1/info');
  t.is(r.status, 200);
  t.is(r.headers['content-type'], 'application/json');
  const info = r.json as Record<string, unknown>;
  t.deepEqual(Object.keys(info), ['apiVersion', 'version', 'stateDir', 'childPID', 'networkDriver', 'portDriver']);
  t.is(info.apiVersion, '1.1.1');
  t.is(info.stateDir, s.stateDir);
  t.true(Number.isInteger(info.childPID) && (info.childPID as number) > 1);
  t.deepEqual(info.networkDriver, { driver: 'none' });
  t.deepEqual(info.portDriver, { driver: 'builtin', protos: ['tcp', 'tcp4', 'tcp6', 'udp', 'udp4', 'udp6'], sourceIPTransparent: true });
  // An empty table.
  const ports = await http(s.sock, 'GET', '/v1/ports');
  t.is(ports.status, 200);
  t.deepEqual(ports.json, []);
  await s.stop();
});

e2e('add, list and remove over the API while connections are open', async (t) => {
  // Ports added at runtime come from the kernel too; if one is taken by the
  // time the session binds it, the whole scenario starts over with others.
  await withPorts(2, async ([p1, p2]) => {
    const s = await session(t, 1, ([p0]) => [`127.0.0.1:${p0}:80/tcp`], ['tcp-echo:80', 'hold:82']);
    const p0 = s.ports[0]!;
    // A connection through the port given at start stays open throughout.
    const held: Socket = netConnect(p0, '127.0.0.1');
    await once(held, 'connect');
    held.write('first');
    t.is(((await once(held, 'data')) as [Buffer])[0].toString(), 'first');

    // As dockerd sends it: no parentIP, no childIP.
    const add = await http(s.sock, 'POST', '/v1/ports', JSON.stringify({ proto: 'tcp', parentPort: p1, childPort: 80 }), { 'Content-Type': 'application/json' });
    clashed('add', add.status, add.body, [p1!]);
    t.is(add.status, 201, add.body);
    t.deepEqual(add.json, { id: 2, spec: { proto: 'tcp', parentPort: p1, childPort: 80 } });
    const add2 = await http(s.sock, 'POST', '/v1/ports', JSON.stringify({ proto: 'tcp4', parentIP: '127.0.0.1', parentPort: p2, childIP: '127.0.0.1', childPort: 82 }));
    clashed('add', add2.status, add2.body, [p2!]);
    t.is(add2.status, 201, add2.body);
    t.is(await echo(p1!, 'through the added port'), 'through the added port');

    const list = await http(s.sock, 'GET', '/v1/ports');
    t.deepEqual(list.json, [
      { id: 1, spec: { proto: 'tcp', parentIP: '127.0.0.1', parentPort: p0, childPort: 80 } },
      { id: 2, spec: { proto: 'tcp', parentPort: p1, childPort: 80 } },
      { id: 3, spec: { proto: 'tcp4', parentIP: '127.0.0.1', parentPort: p2, childPort: 82, childIP: '127.0.0.1' } },
    ]);

    // Same proto and parent address again: RootlessKit's conflict message.
    const clash = await http(s.sock, 'POST', '/v1/ports', JSON.stringify({ proto: 'tcp', parentIP: '127.0.0.1', parentPort: p0, childPort: 81 }));
    t.is(clash.status, 400);
    t.deepEqual(clash.json, { message: 'conflict with ID 1' });

    // Removing port 1: its listener goes, the open connection finishes.
    const del = await http(s.sock, 'DELETE', '/v1/ports/1');
    t.is(del.status, 200);
    t.true(await refused(p0));
    held.write('second');
    t.is(((await once(held, 'data')) as [Buffer])[0].toString(), 'second');
    held.end();
    t.deepEqual(((await http(s.sock, 'GET', '/v1/ports')).json as { id: number }[]).map((p) => p.id), [2, 3]);
    // The port number is free again (unless another process took it meanwhile).
    const again = await http(s.sock, 'POST', '/v1/ports', JSON.stringify({ proto: 'tcp', parentIP: '127.0.0.1', parentPort: p0, childPort: 80 }));
    clashed('add again', again.status, again.body, [p0]);
    t.is(again.status, 201);
    t.is(await echo(p0, 'back'), 'back');
    await s.stop();
  });
});

e2e('bad requests get a 4xx with a JSON message, and the API keeps serving', async (t) => {
  const s = await session(t, 0, () => [], ['tcp-echo:80']);
  // Every one of these is refused before anything binds: the port number need not be free.
  const cases: [string, string, string | undefined, number, RegExp][] = [
    ['POST', '/v1/ports', '{bad', 400, /malformed JSON/],
    ['POST', '/v1/ports', '', 400, /malformed JSON/],
    ['POST', '/v1/ports', '[1,2]', 400, /must be a JSON object/],
    ['POST', '/v1/ports', JSON.stringify({ proto: 'icmp', parentPort: 22210, childPort: 80 }), 400, /^unknown proto: "icmp"$/],
    ['POST', '/v1/ports', JSON.stringify({ proto: 'sctp', parentPort: 22210, childPort: 80 }), 400, /not supported by the builtin port driver/],
    ['POST', '/v1/ports', JSON.stringify({ proto: 'tcp', parentPort: 0, childPort: 80 }), 400, /^invalid ParentPort: 0$/],
    ['POST', '/v1/ports', JSON.stringify({ proto: 'tcp', parentPort: 22210, childPort: 65536 }), 400, /^invalid ChildPort: 65536$/],
    ['POST', '/v1/ports', JSON.stringify({ proto: 'tcp', parentIP: 'x', parentPort: 22210, childPort: 80 }), 400, /invalid ParentIP/],
    ['POST', '/v1/ports', JSON.stringify({ proto: 'tcp', parentIP: '192.0.2.123', parentPort: 22210, childPort: 80 }), 400, /not an address of this host/],
    ['DELETE', '/v1/ports/77', undefined, 400, /^unknown id: 77$/],
    ['DELETE', '/v1/ports/abc', undefined, 400, /bad id/],
    ['GET', '/v2/info', undefined, 404, /no such endpoint/],
    ['GET', '/v1/ports/1', undefined, 405, /not allowed/],
    ['PUT', '/v1/ports', '{}', 405, /not allowed/],
    ['DELETE', '/v1/info', undefined, 405, /not allowed/],
  ];
  for (const [method, path, body, status, re] of cases) {
    const r = await http(s.sock, method, path, body);
    t.is(r.status, status, `${method} ${path} ${body}: ${r.body}`);
    t.is(r.headers['content-type'], 'application/json', `${method} ${path}`);
    t.regex((r.json as { message: string }).message, re, `${method} ${path} ${body}`);
  }
  // Oversized body, declared or streamed (chunked): 413, no crash.
  const big = await http(s.sock, 'POST', '/v1/ports', Buffer.alloc(1 << 20, 'x'));
  t.is(big.status, 413);
  t.regex((big.json as { message: string }).message, /larger than/);
  const streamed = await new Promise<number>((resolve, reject) => {
    const req = request({ socketPath: s.sock, method: 'POST', path: '/v1/ports', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let i = 0; i < 16; i++) req.write(Buffer.alloc(16 << 10, 'y'));
    req.end();
  });
  t.is(streamed, 413);
  // Garbage that is not HTTP at all.
  const raw = netConnect(s.sock);
  raw.end('NOT HTTP\r\n\r\n');
  const rawReply = await new Promise<string>((res) => {
    let got = '';
    raw.on('data', (d) => (got += d.toString()));
    raw.on('close', () => res(got));
    raw.on('error', () => res(got));
  });
  // ("NOT" parses as a method nobody serves: 405; a line that does not parse at all: 400.)
  t.regex(rawReply, /^HTTP\/1\.1 40[05] /);
  // A client that sends half a request and stalls does not stall others.
  const stalled = netConnect(s.sock);
  stalled.on('error', () => {});
  stalled.write('POST /v1/ports HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"pro');
  const info = await http(s.sock, 'GET', '/v1/info');
  t.is(info.status, 200);
  stalled.destroy();
  // Nothing was published by any of it.
  t.deepEqual((await http(s.sock, 'GET', '/v1/ports')).json, []);
  t.is(s.child.exitCode, null);
  await s.stop();
});

e2e('--net=host: api.sock is served too, without drivers', async (t) => {
  const s = await startSession(t, {});
  const sock = join(s.stateDir!, 'api.sock');
  t.true(await eventually(async () => existsSync(sock), 30_000));
  const info = await http(sock, 'GET', '/v1/info');
  t.is(info.status, 200);
  t.deepEqual(Object.keys(info.json as object), ['apiVersion', 'version', 'stateDir', 'childPID']);
  const ports = await http(sock, 'GET', '/v1/ports');
  t.is(ports.status, 400);
  t.deepEqual(ports.json, { message: 'no PortDriver is available' });
  await s.stop();
  t.false(existsSync(sock), 'api.sock is removed at the end');
});

e2e('rootless ports and rootless info: tables, --json, all-or-nothing adds', async (t) => {
  const R = (...a: string[]): ReturnType<typeof run> => run(U, a);
  await withPorts(3, async ([p1, p2, p3]) => {
    const s = await session(t, 1, ([p0]) => [`127.0.0.1:${p0}:80/tcp`], ['tcp-echo:80']);
    const p0 = s.ports[0]!;
    const info = await R('info', '--state-dir', s.stateDir);
    t.is(info.code, 0, info.stderr);
    t.regex(info.stdout, /^State directory: +.*\nChild PID: +\d+\nNetwork driver: +none\nPort driver: +builtin \(tcp, tcp4, tcp6, udp, udp4, udp6\)\nClient addresses: +kept \(--source-ip-transparent\)\nAPI version: +1\.1\.1/);
    const infoJson = await R('info', '--socket', s.sock, '--json');
    t.is((JSON.parse(infoJson.stdout) as { stateDir: string }).stateDir, s.stateDir);

    const add = await R('ports', '--state-dir', s.stateDir, 'add', `${p1}:80`, `[::1]:${p2}:80/tcp6`);
    clashed('ports add', add.code, add.stderr, [p1!, p2!]);
    t.is(add.code, 0, add.stderr);
    const w = Math.max(`*:${p1}`.length, `[::1]:${p2}`.length);
    t.is(add.stdout, `ID  PROTO  ${'PARENT'.padEnd(w)}  CHILD\n2   tcp    ${`*:${p1}`.padEnd(w)}  80\n3   tcp6   ${`[::1]:${p2}`.padEnd(w)}  80\n`);
    t.is(await echo(p1!, 'cli-added'), 'cli-added');

    // One bad spec: none of the command's ports stay.
    const bad = await R('ports', '--state-dir', s.stateDir, 'add', `${p3}:80`, `127.0.0.1:${p0}:80`);
    clashed('ports add', bad.code, bad.stderr, [p3!]);
    t.is(bad.code, 1);
    t.is(bad.stderr, `rootless ports: add "127.0.0.1:${p0}:80": conflict with ID 1\n`);
    const ls = await R('ports', '--state-dir', s.stateDir, 'ls', '--json');
    t.deepEqual((JSON.parse(ls.stdout) as { id: number }[]).map((p) => p.id), [1, 2, 3]);
    t.true(await refused(p3!));

    const rmBad = await R('ports', '--state-dir', s.stateDir, 'rm', '2', '99');
    t.is(rmBad.code, 1);
    t.regex(rmBad.stderr, /unknown id: 99/);
    const rm = await R('ports', '--state-dir', s.stateDir, 'rm', '2', '3');
    t.is(rm.code, 0, rm.stderr);
    const ls2 = await R('ports', '--state-dir', s.stateDir, 'ls');
    const parent = `127.0.0.1:${p0}`;
    t.is(ls2.stdout, `ID  PROTO  ${'PARENT'.padEnd(parent.length)}  CHILD\n1   tcp    ${parent}  80\n`);

    const badSpec = await R('ports', '--state-dir', s.stateDir, 'add', 'nope');
    t.is(badSpec.code, 2);
    t.regex(badSpec.stderr, /^rootless ports: invalid port spec "nope"/);
    const noSession = await R('ports', 'ls');
    t.is(noSession.code, 2);
    t.regex(noSession.stderr, /--socket PATH or --state-dir DIR/);
    const gone = await R('ports', '--socket', '/nonexistent/api.sock', 'ls');
    t.is(gone.code, 1);
    t.regex(gone.stderr, /no such socket/);
    await s.stop();
  });
});

e2e('inside a session, the commands find it through ROOTLESSKIT_STATE_DIR', async (t) => {
  const r = await runWithPorts(1, ([p]) => ['run', '--net=none', '--port-driver=builtin', '-p', `127.0.0.1:${p}:80/tcp`, '--', 'sh', '-c', `${BIN} ports ls --json && ${BIN} ctl list-ports`]);
  t.is(r.code, 0, r.stderr);
  const [json, ...table] = r.stdout.trim().split('\n');
  t.deepEqual(JSON.parse(json!), [{ id: 1, spec: { proto: 'tcp', parentIP: '127.0.0.1', parentPort: r.ports[0], childPort: 80 } }]);
  t.regex(table[0]!, /^ID {4}PROTO {4}PARENTIP/);
});

withRootlessctl("Debian's rootlessctl works against our api.sock, and `rootless ctl` prints what it prints", async (t) => {
  await withPorts(3, async ([p1, p2, p3]) => {
    const s = await session(t, 1, ([p0]) => [`127.0.0.1:${p0}:80/tcp`], ['tcp-echo:80']);
    const p0 = s.ports[0]!;
    const asUser = { encoding: 'utf8' as const, env: userEnv(U), ...(U.switchTo ? { uid: U.switchTo.uid, gid: U.switchTo.gid } : {}) };
    const both = async (...args: string[]): Promise<[SpawnSyncReturns<string>, Awaited<ReturnType<typeof run>>]> => {
      const theirs = spawnSync('rootlessctl', ['--socket', s.sock, ...args], asUser);
      const ours = await run(U, ['ctl', '--socket', s.sock, ...args]);
      return [theirs, ours];
    };
    for (const args of [['list-ports'], ['list-ports', '--json'], ['info'], ['info', '--json']]) {
      const [theirs, ours] = await both(...args);
      t.is(theirs.status, 0, String(theirs.stderr));
      t.is(ours.code, 0, ours.stderr);
      t.is(ours.stdout, theirs.stdout, args.join(' '));
    }
    // rootlessctl adds and removes; our listing sees it, and the port works.
    const added = spawnSync('rootlessctl', ['--socket', s.sock, 'add-ports', `127.0.0.1:${p1}:80/tcp`, `127.0.0.1:${p2}:80/udp`], asUser);
    clashed('add-ports', added.status, added.stderr, [p1!, p2!]);
    t.is(added.status, 0, added.stderr);
    t.is(added.stdout, '2\n3\n');
    t.is(await echo(p1!, 'via rootlessctl'), 'via rootlessctl');
    const [theirs, ours] = await both('list-ports');
    t.is(ours.stdout, theirs.stdout);
    t.regex(String(theirs.stdout), new RegExp(`2 +tcp +127\\.0\\.0\\.1 +${p1} +80`));
    // Errors: the API's message, as rootlessctl prints it.
    const [e1, e2] = await both('remove-ports', '42');
    t.is(e1.status, 1);
    t.is(String(e1.stderr).trim(), 'error: unknown id: 42');
    t.is(e2.code, 1);
    t.is(e2.stderr.trim(), 'error: unknown id: 42');
    const [a1, a2] = await both('add-ports', `127.0.0.1:${p0}:81/tcp`);
    t.is(String(a1.stderr).trim(), 'error: conflict with ID 1');
    t.is(a2.stderr.trim(), 'error: conflict with ID 1');
    const [r1, r2] = await both('remove-ports', '2', '3');
    t.is(r1.status, 0, String(r1.stderr));
    t.is(r1.stdout, '2\n3\n');
    t.is(r2.code, 1, 'already removed by rootlessctl');
    t.true(await refused(p1!));
    const [add1, add2] = await both('add-ports', '--json', `127.0.0.1:${p3}:80/tcp`);
    clashed('add-ports', add1.status, String(add1.stderr), [p3!]);
    t.is(add1.stdout, `{"id":4,"spec":{"proto":"tcp","parentIP":"127.0.0.1","parentPort":${p3},"childPort":80}}\n`);
    t.is(add2.code, 1);
    t.is(add2.stderr.trim(), 'error: conflict with ID 4');
    await s.stop();
  });
});
