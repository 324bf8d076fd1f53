// End-to-end: port forwarding from the host into the namespace, as the
// unprivileged user, with the real launcher, real namespaces, and the real
// slirp4netns and pasta. Servers inside are test/helpers/port-target.ts;
// clients run here, on the host side. Host ports 22000-22199 are this file's.
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { alive, collect, eventually, run, start, waitFor } from '../helpers/rootless.js';
import { launcherUser, type TestUser } from '../helpers/user.js';
import { SOURCE_BLOCKS, SOURCE_BLOCK_SIZE, deterministicSha } from '../helpers/port-data.js';

const who = launcherUser();
if (typeof who === 'string') test('end-to-end environment', (t) => t.fail(who));
const U = who as TestUser;
const e2e = typeof who === 'string' ? test.skip : test;

const TARGET = fileURLToPath(new URL('../helpers/port-target.js', import.meta.url));
const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
for (const bin of ['slirp4netns', 'pasta']) {
  if (!has(bin)) test(`${bin} is installed`, (t) => t.fail(`${bin} missing: run scripts/setup-test-env.sh`));
}
const withSlirp = has('slirp4netns') ? e2e : test.skip;
const withPasta = has('pasta') ? e2e : test.skip;

function userDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (U.switchTo) chownSync(dir, U.uid, U.gid);
  return dir;
}

interface Session {
  child: ChildProcess;
  stateDir: string;
  done: Promise<{ code: number | null; stderr: string }>;
  stop(): Promise<void>;
}

/** A session whose target runs port-target with `servers`; resolves once they listen. */
async function session(t: ExecutionContext, flags: string[], servers: string[]): Promise<Session> {
  const base = userDir('rootless-ports-');
  const stateDir = join(base, 'state');
  const child = start(U, ['run', '--state-dir', stateDir, ...flags, '--', process.execPath, TARGET, ...servers]);
  const done = collect(child, 600_000);
  const ready = waitFor(child.stdout!, /ready/, 60_000);
  const ended = done.then((r) => {
    throw new Error(`the session ended before it was ready: ${r.code} ${r.stderr}`);
  });
  try {
    await Promise.race([ready, ended]);
  } catch (err) {
    child.kill('SIGKILL');
    await done.catch(() => {});
    rmSync(base, { recursive: true, force: true });
    throw err;
  }
  const s: Session = {
    child,
    stateDir,
    done: done.then((r) => ({ code: r.code, stderr: r.stderr })),
    stop: async () => {
      child.kill('SIGTERM');
      const r = await done;
      rmSync(base, { recursive: true, force: true });
      if (r.code !== 0 && r.code !== 143) t.log(`session exit ${r.code}: ${r.stderr}`);
    },
  };
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return s;
}

function readAll(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((res, rej) => {
    s.on('end', () => res(Buffer.concat(chunks)));
    s.on('error', rej);
  });
}

/** One request/response over a fresh connection: what the client reads until EOF. */
async function exchange(port: number, host: string, data: string | Buffer): Promise<Buffer> {
  const c = connect({ port, host, allowHalfOpen: true });
  const got = readAll(c);
  c.end(data);
  return got;
}

async function udpExchange(port: number, host: string, msg: string): Promise<string> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    // The first datagram of a flow may race the flow's setup on a loaded
    // machine: retry, as any UDP client would.
    const reply = new Promise<string>((res) => s.once('message', (m: Buffer) => res(m.toString())));
    for (let i = 0; i < 20; i++) {
      s.send(msg, port, host);
      const r = await Promise.race([reply, new Promise<undefined>((res) => setTimeout(res, 500, undefined))]);
      if (r !== undefined) return r;
    }
    throw new Error(`no UDP reply from ${host}:${port}`);
  } finally {
    s.close();
  }
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function bigEcho(t: ExecutionContext, port: number, host = '127.0.0.1'): Promise<void> {
  const payload = randomBytes(64 << 20);
  const back = await exchange(port, host, payload);
  t.is(back.length, payload.length, '64 MiB back');
  t.is(sha(back), sha(payload), 'sha256 matches');
}

// --- builtin ----------------------------------------------------------------

e2e('builtin: tcp, tcp6 and udp reach the servers inside', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22000:80/tcp', '-p', '[::1]:22001:80/tcp6', '-p', '127.0.0.1:22002:53/udp'], ['tcp-echo:80', 'udp-echo:53']);
  try {
    t.is((await exchange(22000, '127.0.0.1', 'over tcp')).toString(), 'over tcp');
    t.is((await exchange(22001, '::1', 'over tcp6')).toString(), 'over tcp6');
    t.is(await udpExchange(22002, '127.0.0.1', 'over udp'), 'over udp');
  } finally {
    await s.stop();
  }
});

e2e('builtin: 64 MiB each way with matching sha256', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22010:80/tcp'], ['tcp-echo:80']);
  try {
    await bigEcho(t, 22010);
  } finally {
    await s.stop();
  }
});

e2e('builtin: 200 concurrent connections', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22020:80/tcp'], ['tcp-echo:80']);
  try {
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const msg = `connection ${i} `.repeat(500);
        return (await exchange(22020, '127.0.0.1', msg)).toString() === msg;
      }),
    );
    t.is(results.filter(Boolean).length, 200);
  } finally {
    await s.stop();
  }
});

e2e('builtin: half-close: the client shuts down writing and still reads the reply', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22030:81/tcp'], ['count:81']);
  try {
    const body = randomBytes(3 << 20);
    // The server answers only once it has read EOF.
    t.is((await exchange(22030, '127.0.0.1', body)).toString(), `${body.length} ${sha(body)}`);
  } finally {
    await s.stop();
  }
});

e2e('builtin: nothing listening inside: the host connection is reset promptly', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22040:99/tcp'], ['tcp-echo:80']);
  try {
    const started = Date.now();
    const c = connect(22040, '127.0.0.1');
    const outcome = await new Promise<string>((res) => {
      c.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
      c.on('data', () => res('data'));
      c.on('close', () => res('closed'));
    });
    t.true(outcome === 'ECONNRESET' || outcome === 'closed', outcome);
    t.true(Date.now() - started < 10_000, `promptly (${Date.now() - started} ms)`);
    // The session is unharmed.
    t.is(s.child.exitCode, null);
  } finally {
    await s.stop();
  }
});

e2e('builtin: a parent port in use on the host: one line naming the spec, nothing left behind', async (t) => {
  const blocker = createServer();
  await new Promise<void>((res) => blocker.listen(22050, '127.0.0.1', () => res()));
  const base = userDir('rootless-ports-conflict-');
  const stateDir = join(base, 'state');
  try {
    const r = await run(U, ['run', '--state-dir', stateDir, '--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22051:80/tcp', '-p', '127.0.0.1:22050:80/tcp', '--', 'true']);
    t.is(r.code, 125, r.stderr);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, /127\.0\.0\.1:22050:80\/tcp.*already in use/);
    // Nothing half-published: the first port is closed again, no files left.
    const refused = await new Promise<string>((res) => {
      const c = connect(22051, '127.0.0.1');
      c.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
      c.on('connect', () => {
        c.destroy();
        res('connected');
      });
    });
    t.is(refused, 'ECONNREFUSED');
    t.deepEqual(existsSync(stateDir) ? readdirSync(stateDir) : [], []);
  } finally {
    blocker.close();
    rmSync(base, { recursive: true, force: true });
  }
});

e2e('bad -p specs: exit 2, one line naming the spec, before anything starts', async (t) => {
  for (const [spec, re] of [
    ['127.0.0.1:70000:80/tcp', /parent port 70000 is outside 1-65535/],
    ['127.0.0.1:22060:80/xyz', /unknown proto "xyz"/],
    ['::1:22060:80/tcp', /brackets/],
  ] as const) {
    const r = await run(U, ['run', '--net=none', '--port-driver=builtin', '-p', spec, '--', 'true']);
    t.is(r.code, 2, r.stderr);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.true(r.stderr.includes(JSON.stringify(spec)), r.stderr);
    t.regex(r.stderr, re);
  }
  const twice = await run(U, ['run', '--net=none', '--port-driver=builtin', '-p', '22061:80', '-p', '22061:81/tcp', '--', 'true']);
  t.is(twice.code, 2);
  t.regex(twice.stderr, /already published/);
});

e2e('builtin: the forwarding ends with the session, and the relay with it', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22070:82/tcp'], ['hold:82']);
  const c = connect(22070, '127.0.0.1');
  const closed = new Promise<void>((res) => c.on('close', () => res()));
  c.on('error', () => {});
  await once(c, 'data');
  const pid = s.child.pid!;
  await s.stop();
  // The open connection is closed, the port refuses, the launcher is gone.
  await closed;
  t.false(await alive(pid));
  const refused = await new Promise<string>((res) => {
    const d = connect(22070, '127.0.0.1');
    d.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
    d.on('connect', () => {
      d.destroy();
      res('connected');
    });
  });
  t.is(refused, 'ECONNREFUSED');
});

e2e('builtin: api.sock is 0600 and appears only once every -p port listens', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22080:80/tcp'], ['tcp-echo:80']);
  try {
    const st = statSync(join(s.stateDir, 'api.sock'));
    t.true(st.isSocket());
    t.is(st.mode & 0o777, 0o600);
    t.is(st.uid, U.uid);
    t.is((await exchange(22080, '127.0.0.1', 'x')).toString(), 'x');
  } finally {
    await s.stop();
  }
});

// --- slirp4netns ------------------------------------------------------------

withSlirp('slirp4netns driver: tcp and udp, 64 MiB each way', async (t) => {
  const s = await session(
    t,
    ['--net=slirp4netns', '--port-driver=slirp4netns', '-p', '127.0.0.1:22100:80/tcp', '-p', '127.0.0.1:22101:53/udp'],
    ['tcp-echo:80', 'udp-echo:53'],
  );
  try {
    t.is((await exchange(22100, '127.0.0.1', 'via slirp4netns')).toString(), 'via slirp4netns');
    t.is(await udpExchange(22101, '127.0.0.1', 'udp via slirp4netns'), 'udp via slirp4netns');
    await bigEcho(t, 22100);
  } finally {
    await s.stop();
  }
});

withSlirp('slirp4netns driver: a parent port in use is one line naming the spec', async (t) => {
  const blocker = createServer();
  await new Promise<void>((res) => blocker.listen(22110, '127.0.0.1', () => res()));
  try {
    const r = await run(U, ['run', '--net=slirp4netns', '--port-driver=slirp4netns', '-p', '127.0.0.1:22110:80/tcp', '--', 'true']);
    t.is(r.code, 125, r.stderr);
    t.regex(r.stderr.trim(), /127\.0\.0\.1:22110:80\/tcp.*already in use/);
    t.is(r.stderr.trim().split('\n').filter((l) => !l.startsWith('rootless: warning: ')).length, 1, r.stderr);
  } finally {
    blocker.close();
  }
});

withSlirp('builtin driver over --net=slirp4netns: tcp6 and udp', async (t) => {
  const s = await session(
    t,
    ['--net=slirp4netns', '--port-driver=builtin', '-p', '[::1]:22120:80/tcp6', '-p', '127.0.0.1:22121:53/udp'],
    ['tcp-echo:80', 'udp-echo:53'],
  );
  try {
    t.is((await exchange(22120, '::1', 'v6 via builtin')).toString(), 'v6 via builtin');
    t.is(await udpExchange(22121, '127.0.0.1', 'udp via builtin'), 'udp via builtin');
  } finally {
    await s.stop();
  }
});

// --- implicit (pasta) --------------------------------------------------------

/** A local, non-loopback IPv4 address of this host (traffic to it never leaves the machine). */
function localAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

withPasta('implicit driver (pasta): tcp and udp given at start, listed, runtime changes refused', async (t) => {
  const s = await session(
    t,
    ['--net=pasta', '--port-driver=implicit', '-p', '127.0.0.1:22150:80/tcp', '-p', '22151:53/udp', '-p', '127.0.0.1:22152:81/tcp', '-p', '127.0.0.1:22153:83/tcp'],
    ['tcp-echo:80', 'udp-echo:53', 'count:81', 'source:83'],
  );
  try {
    t.is((await exchange(22150, '127.0.0.1', 'via pasta')).toString(), 'via pasta');
    // pasta's loopback ("spliced") UDP path loses the replies with Debian
    // 12's passt on this kernel (pasta alone does the same); its tap path,
    // taken for the host's own non-loopback address, works.
    const local = localAddress();
    if (local === undefined) t.log('no non-loopback address on this host: pasta UDP not exercised');
    else t.is(await udpExchange(22151, local, 'udp via pasta'), 'udp via pasta');
    // 64 MiB each way, one way at a time, and no half-close before data
    // comes back: Debian 12's pasta (alone too) now and then drops the tail
    // of what flows towards a client that has shut down its writing.
    const up = randomBytes(64 << 20);
    t.is((await exchange(22152, '127.0.0.1', up)).toString(), `${up.length} ${sha(up)}`, '64 MiB in');
    const down = await readAll(connect(22153, '127.0.0.1'));
    t.is(down.length, SOURCE_BLOCKS * SOURCE_BLOCK_SIZE, '64 MiB out');
    t.is(sha(down), deterministicSha());
    const ls = await run(U, ['ports', '--state-dir', s.stateDir, 'ls', '--json']);
    t.is(ls.code, 0, ls.stderr);
    const ports = JSON.parse(ls.stdout) as { id: number; spec: { proto: string; parentPort: number } }[];
    t.deepEqual(ports.map((p) => [p.spec.proto, p.spec.parentPort]), [['tcp', 22150], ['udp', 22151], ['tcp', 22152], ['tcp', 22153]]);
    const add = await run(U, ['ports', '--state-dir', s.stateDir, 'add', '127.0.0.1:22154:80/tcp']);
    t.is(add.code, 1);
    t.regex(add.stderr, /cannot change ports while the session runs/);
    t.is(add.stderr.trim().split('\n').length, 1);
    const rm = await run(U, ['ports', '--state-dir', s.stateDir, 'rm', '1']);
    t.is(rm.code, 1);
    t.regex(rm.stderr, /cannot change ports/);
    // Still forwarding.
    t.is((await exchange(22150, '127.0.0.1', 'still')).toString(), 'still');
  } finally {
    await s.stop();
  }
});

// A helper that makes sure the launcher exits by itself too (no stray processes).
e2e('builtin: the relay closes idle established connections only when asked: a long-lived connection survives', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22090:80/tcp'], ['tcp-echo:80']);
  try {
    const c = connect(22090, '127.0.0.1');
    await once(c, 'connect');
    c.write('a');
    await once(c, 'data');
    await new Promise((r) => setTimeout(r, 1500));
    c.write('b');
    const [d] = (await once(c, 'data')) as [Buffer];
    t.is(d.toString(), 'b');
    c.destroy();
    t.true(await eventually(async () => s.child.exitCode === null, 100));
  } finally {
    await s.stop();
  }
});

// --- faults -----------------------------------------------------------------

function refusedNow(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((res) => {
    const c = connect(port, host);
    c.on('error', (e: NodeJS.ErrnoException) => res(e.code === 'ECONNREFUSED'));
    c.on('connect', () => {
      c.destroy();
      res(false);
    });
  });
}

e2e('builtin: the child killed mid-session: the session ends with an error, the port closes', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22160:80/tcp'], ['tcp-echo:80']);
  const held = connect(22160, '127.0.0.1');
  held.on('error', () => {});
  await once(held, 'connect');
  const childPid = Number(readFileSync(join(s.stateDir, 'child_pid'), 'utf8'));
  process.kill(childPid, 'SIGKILL');
  const r = await s.done;
  t.not(r.code, 0);
  t.regex(r.stderr, /child/);
  t.true(await refusedNow(22160));
  await new Promise<void>((res) => (held.destroyed ? res() : held.on('close', () => res())));
  await s.stop();
});

e2e('builtin: the launcher SIGKILLed: the port closes and the child goes with it', async (t) => {
  const s = await session(t, ['--net=none', '--port-driver=builtin', '-p', '127.0.0.1:22170:80/tcp', '-p', '127.0.0.1:22170:53/udp'], ['tcp-echo:80', 'udp-echo:53']);
  const childPid = Number(readFileSync(join(s.stateDir, 'child_pid'), 'utf8'));
  s.child.kill('SIGKILL');
  await s.done;
  t.true(await eventually(async () => !(await alive(childPid)), 10_000), 'the child dies with the launcher');
  t.true(await refusedNow(22170));
  // The UDP port is free again: it can be bound here.
  const u = createSocket('udp4');
  await new Promise<void>((res, rej) => {
    u.once('error', rej);
    u.bind(22170, '127.0.0.1', () => res());
  });
  u.close();
  t.pass();
  await s.stop();
});

e2e('builtin with --detach-netns: connections go into the detached namespace', async (t) => {
  // The target stays in the host's network namespace; the server runs in
  // the detached one ($ROOTLESSKIT_STATE_DIR/netns), entered with nsenter.
  const base = userDir('rootless-ports-detach-');
  const stateDir = join(base, 'state');
  const script = `nsenter --net=$ROOTLESSKIT_STATE_DIR/netns ${process.execPath} ${TARGET} tcp-echo:80`;
  const child = start(U, ['run', '--state-dir', stateDir, '--net=slirp4netns', '--detach-netns', '--port-driver=builtin', '-p', '127.0.0.1:22180:80/tcp', '--', 'sh', '-c', script]);
  const done = collect(child, 120_000);
  try {
    await Promise.race([waitFor(child.stdout!, /ready/, 60_000), done.then((r) => Promise.reject(new Error(`ended: ${r.code} ${r.stderr}`)))]);
    t.is((await exchange(22180, '127.0.0.1', 'into the detached netns')).toString(), 'into the detached netns');
  } finally {
    child.kill('SIGTERM');
    await done;
    rmSync(base, { recursive: true, force: true });
  }
});
