// End-to-end: the REST API on api.sock (RootlessKit's v1), its clients
// (`rootless info`, `rootless ports`, `rootless ctl`, Debian's rootlessctl),
// against real sessions of the unprivileged user. Host ports 22200-22299.
import test, { type ExecutionContext } from 'ava';
import { request } from 'node:http';
import { connect as netConnect, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { collect, eventually, run, start, userEnv, waitFor } from '../helpers/rootless.js';
import { launcherUser, type TestUser } from '../helpers/user.js';

const who = launcherUser();
if (typeof who === 'string') test('end-to-end environment', (t) => t.fail(who));
const U = who as TestUser;
const e2e = typeof who === 'string' ? test.skip : test;
const TARGET = fileURLToPath(new URL('../helpers/port-target.js', import.meta.url));
const hasRootlessctl = spawnSync('sh', ['-c', 'command -v rootlessctl']).status === 0;
if (!hasRootlessctl) test('rootlessctl is installed', (t) => t.fail('rootlessctl missing: install the rootlesskit package (scripts/setup-test-env.sh does)'));
const withRootlessctl = hasRootlessctl ? e2e : test.skip;

interface Session {
  child: ChildProcess;
  stateDir: string;
  sock: string;
  stop(): Promise<void>;
}

async function session(t: ExecutionContext, flags: string[], servers: string[]): Promise<Session> {
  const base = mkdtempSync(join(tmpdir(), 'rootless-api-'));
  if (U.switchTo) chownSync(base, U.uid, U.gid);
  const stateDir = join(base, 'state');
  const child = start(U, ['run', '--state-dir', stateDir, ...flags, '--', process.execPath, TARGET, ...servers]);
  const done = collect(child, 600_000);
  try {
    await Promise.race([
      waitFor(child.stdout!, /ready/, 60_000),
      done.then((r) => {
        throw new Error(`session ended early: ${r.code} ${r.stderr}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    await done.catch(() => {});
    rmSync(base, { recursive: true, force: true });
    throw err;
  }
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    stateDir,
    sock: join(stateDir, 'api.sock'),
    stop: async () => {
      child.kill('SIGTERM');
      await done;
      rmSync(base, { recursive: true, force: true });
    },
  };
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

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
    c.on('connect', () => {
      c.destroy();
      resolve(false);
    });
  });
}

e2e('GET /v1/info describes the session as RootlessKit does', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin'], ['tcp-echo:80']);
  try {
    const r = await http(s.sock, 'GET', '/v1/info');
    t.is(r.status, 200);
    t.is(r.headers['content-type'], 'application/json');
    const info = r.json as Record<string, unknown>;
    t.deepEqual(Object.keys(info), ['apiVersion', 'version', 'stateDir', 'childPID', 'networkDriver', 'portDriver']);
    t.is(info.apiVersion, '1.1.1');
    t.is(info.stateDir, s.stateDir);
    t.true(Number.isInteger(info.childPID) && (info.childPID as number) > 1);
    t.deepEqual(info.networkDriver, { driver: 'none' });
    t.deepEqual(info.portDriver, { driver: 'builtin', protos: ['tcp', 'tcp4', 'tcp6', 'udp', 'udp4', 'udp6'] });
    // An empty table.
    const ports = await http(s.sock, 'GET', '/v1/ports');
    t.is(ports.status, 200);
    t.deepEqual(ports.json, []);
  } finally {
    await s.stop();
  }
});

e2e('add, list and remove over the API while connections are open', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22200:80/tcp'], ['tcp-echo:80', 'hold:82']);
  try {
    // A connection through the port given at start stays open throughout.
    const held: Socket = netConnect(22200, '127.0.0.1');
    await once(held, 'connect');
    held.write('first');
    t.is(((await once(held, 'data')) as [Buffer])[0].toString(), 'first');

    // As dockerd sends it: no parentIP, no childIP.
    const add = await http(s.sock, 'POST', '/v1/ports', JSON.stringify({ proto: 'tcp', parentPort: 22201, childPort: 80 }), { 'Content-Type': 'application/json' });
    t.is(add.status, 201, add.body);
    t.deepEqual(add.json, { id: 2, spec: { proto: 'tcp', parentPort: 22201, childPort: 80 } });
    const add2 = await http(s.sock, 'POST', '/v1/ports', JSON.stringify({ proto: 'tcp4', parentIP: '127.0.0.1', parentPort: 22202, childIP: '127.0.0.1', childPort: 82 }));
    t.is(add2.status, 201, add2.body);
    t.is(await echo(22201, 'through the added port'), 'through the added port');

    const list = await http(s.sock, 'GET', '/v1/ports');
    t.deepEqual(list.json, [
      { id: 1, spec: { proto: 'tcp', parentIP: '127.0.0.1', parentPort: 22200, childPort: 80 } },
      { id: 2, spec: { proto: 'tcp', parentPort: 22201, childPort: 80 } },
      { id: 3, spec: { proto: 'tcp4', parentIP: '127.0.0.1', parentPort: 22202, childPort: 82, childIP: '127.0.0.1' } },
    ]);

    // Same proto and parent address again: RootlessKit's conflict message.
    const clash = await http(s.sock, 'POST', '/v1/ports', JSON.stringify({ proto: 'tcp', parentIP: '127.0.0.1', parentPort: 22200, childPort: 81 }));
    t.is(clash.status, 400);
    t.deepEqual(clash.json, { message: 'conflict with ID 1' });

    // Removing port 1: its listener goes, the open connection finishes.
    const del = await http(s.sock, 'DELETE', '/v1/ports/1');
    t.is(del.status, 200);
    t.true(await refused(22200));
    held.write('second');
    t.is(((await once(held, 'data')) as [Buffer])[0].toString(), 'second');
    held.end();
    t.deepEqual(((await http(s.sock, 'GET', '/v1/ports')).json as { id: number }[]).map((p) => p.id), [2, 3]);
    // The port number is free again.
    const again = await http(s.sock, 'POST', '/v1/ports', JSON.stringify({ proto: 'tcp', parentIP: '127.0.0.1', parentPort: 22200, childPort: 80 }));
    t.is(again.status, 201);
    t.is(await echo(22200, 'back'), 'back');
  } finally {
    await s.stop();
  }
});

e2e('bad requests get a 4xx with a JSON message, and the API keeps serving', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin'], ['tcp-echo:80']);
  try {
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
    t.regex(rawReply, /^HTTP\/1\.1 400/);
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
  } finally {
    await s.stop();
  }
});

e2e('--net=host: api.sock is served too, without drivers', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'rootless-api-host-'));
  if (U.switchTo) chownSync(base, U.uid, U.gid);
  const stateDir = join(base, 'state');
  const child = start(U, ['run', '--state-dir', stateDir, '--', 'sh', '-c', 'echo ready; sleep 30']);
  const done = collect(child, 120_000);
  try {
    await waitFor(child.stdout!, /ready/);
    const sock = join(stateDir, 'api.sock');
    t.true(await eventually(async () => existsSync(sock), 10_000));
    const info = await http(sock, 'GET', '/v1/info');
    t.is(info.status, 200);
    t.deepEqual(Object.keys(info.json as object), ['apiVersion', 'version', 'stateDir', 'childPID']);
    const ports = await http(sock, 'GET', '/v1/ports');
    t.is(ports.status, 400);
    t.deepEqual(ports.json, { message: 'no PortDriver is available' });
  } finally {
    child.kill('SIGTERM');
    await done;
    t.false(existsSync(join(stateDir, 'api.sock')), 'api.sock is removed at the end');
    rmSync(base, { recursive: true, force: true });
  }
});

e2e('rootless ports and rootless info: tables, --json, all-or-nothing adds', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22220:80/tcp'], ['tcp-echo:80']);
  const R = (...a: string[]): ReturnType<typeof run> => run(U, a);
  try {
    const info = await R('info', '--state-dir', s.stateDir);
    t.is(info.code, 0, info.stderr);
    t.regex(info.stdout, /^State directory: +.*\nChild PID: +\d+\nNetwork driver: +none\nPort driver: +builtin \(tcp, tcp4, tcp6, udp, udp4, udp6\)\nAPI version: +1\.1\.1/);
    const infoJson = await R('info', '--socket', s.sock, '--json');
    t.is((JSON.parse(infoJson.stdout) as { stateDir: string }).stateDir, s.stateDir);

    const add = await R('ports', '--state-dir', s.stateDir, 'add', '22221:80', '[::1]:22222:80/tcp6');
    t.is(add.code, 0, add.stderr);
    t.is(add.stdout, 'ID  PROTO  PARENT       CHILD\n2   tcp    *:22221      80\n3   tcp6   [::1]:22222  80\n');
    t.is(await echo(22221, 'cli-added'), 'cli-added');

    // One bad spec: none of the command's ports stay.
    const bad = await R('ports', '--state-dir', s.stateDir, 'add', '22223:80', '127.0.0.1:22220:80');
    t.is(bad.code, 1);
    t.is(bad.stderr, 'rootless ports: add "127.0.0.1:22220:80": conflict with ID 1\n');
    const ls = await R('ports', '--state-dir', s.stateDir, 'ls', '--json');
    t.deepEqual((JSON.parse(ls.stdout) as { id: number }[]).map((p) => p.id), [1, 2, 3]);
    t.true(await refused(22223));

    const rmBad = await R('ports', '--state-dir', s.stateDir, 'rm', '2', '99');
    t.is(rmBad.code, 1);
    t.regex(rmBad.stderr, /unknown id: 99/);
    const rm = await R('ports', '--state-dir', s.stateDir, 'rm', '2', '3');
    t.is(rm.code, 0, rm.stderr);
    const ls2 = await R('ports', '--state-dir', s.stateDir, 'ls');
    t.is(ls2.stdout, 'ID  PROTO  PARENT           CHILD\n1   tcp    127.0.0.1:22220  80\n');

    const badSpec = await R('ports', '--state-dir', s.stateDir, 'add', 'nope');
    t.is(badSpec.code, 2);
    t.regex(badSpec.stderr, /^rootless ports: invalid port spec "nope"/);
    const noSession = await R('ports', 'ls');
    t.is(noSession.code, 2);
    t.regex(noSession.stderr, /--socket PATH or --state-dir DIR/);
    const gone = await R('ports', '--socket', '/nonexistent/api.sock', 'ls');
    t.is(gone.code, 1);
    t.regex(gone.stderr, /no such socket/);
  } finally {
    await s.stop();
  }
});

e2e('inside a session, the commands find it through ROOTLESSKIT_STATE_DIR', async (t) => {
  const bin = fileURLToPath(new URL('../../../bin/rootless', import.meta.url));
  const r = await run(U, ['run', '--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22230:80/tcp', '--', 'sh', '-c', `${bin} ports ls --json && ${bin} ctl list-ports`]);
  t.is(r.code, 0, r.stderr);
  const [json, ...table] = r.stdout.trim().split('\n');
  t.deepEqual(JSON.parse(json!), [{ id: 1, spec: { proto: 'tcp', parentIP: '127.0.0.1', parentPort: 22230, childPort: 80 } }]);
  t.regex(table[0]!, /^ID {4}PROTO {4}PARENTIP/);
});

withRootlessctl("Debian's rootlessctl works against our api.sock, and `rootless ctl` prints what it prints", async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22240:80/tcp'], ['tcp-echo:80']);
  const both = async (...args: string[]): Promise<[SpawnSyncReturns<string>, Awaited<ReturnType<typeof run>>]> => {
    const theirs = spawnSync('rootlessctl', ['--socket', s.sock, ...args], {
      encoding: 'utf8',
      env: userEnv(U),
      ...(U.switchTo ? { uid: U.switchTo.uid, gid: U.switchTo.gid } : {}),
    });
    const ours = await run(U, ['ctl', '--socket', s.sock, ...args]);
    return [theirs, ours];
  };
  try {
    for (const args of [['list-ports'], ['list-ports', '--json'], ['info'], ['info', '--json']]) {
      const [theirs, ours] = await both(...args);
      t.is(theirs.status, 0, String(theirs.stderr));
      t.is(ours.code, 0, ours.stderr);
      t.is(ours.stdout, theirs.stdout, args.join(' '));
    }
    // rootlessctl adds and removes; our listing sees it, and the port works.
    const added = spawnSync('rootlessctl', ['--socket', s.sock, 'add-ports', '127.0.0.1:22241:80/tcp', '127.0.0.1:22242:80/udp'], {
      encoding: 'utf8', env: userEnv(U), ...(U.switchTo ? { uid: U.switchTo.uid, gid: U.switchTo.gid } : {}),
    });
    t.is(added.status, 0, added.stderr);
    t.is(added.stdout, '2\n3\n');
    t.is(await echo(22241, 'via rootlessctl'), 'via rootlessctl');
    const [theirs, ours] = await both('list-ports');
    t.is(ours.stdout, theirs.stdout);
    t.regex(String(theirs.stdout), /2 +tcp +127\.0\.0\.1 +22241 +80/);
    // Errors: the API's message, as rootlessctl prints it.
    const [e1, e2] = await both('remove-ports', '42');
    t.is(e1.status, 1);
    t.is(String(e1.stderr).trim(), 'error: unknown id: 42');
    t.is(e2.code, 1);
    t.is(e2.stderr.trim(), 'error: unknown id: 42');
    const [a1, a2] = await both('add-ports', '127.0.0.1:22240:81/tcp');
    t.is(String(a1.stderr).trim(), 'error: conflict with ID 1');
    t.is(a2.stderr.trim(), 'error: conflict with ID 1');
    const [r1, r2] = await both('remove-ports', '2', '3');
    t.is(r1.status, 0, String(r1.stderr));
    t.is(r1.stdout, '2\n3\n');
    t.is(r2.code, 1, 'already removed by rootlessctl');
    t.true(await refused(22241));
    const [add1, add2] = await both('add-ports', '--json', '127.0.0.1:22243:80/tcp');
    t.is(add1.stdout, '{"id":4,"spec":{"proto":"tcp","parentIP":"127.0.0.1","parentPort":22243,"childPort":80}}\n');
    t.is(add2.code, 1);
    t.is(add2.stderr.trim(), 'error: conflict with ID 4');
  } finally {
    await s.stop();
  }
});
