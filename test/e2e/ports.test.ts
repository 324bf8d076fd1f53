// End-to-end: port forwarding from the host into the namespace, as the
// unprivileged user, with the real launcher, real namespaces, and the real
// slirp4netns and pasta. Servers inside are test/helpers/port-target.ts;
// clients run here, on the host side, on host ports the kernel picks.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  TARGET, U, alive, e2e, e2eUnless, eventually, exchange, freePorts, portSession, readAll, refused, run, runWithPorts, sha, udpExchange, userDir,
} from '../helpers/e2e.js';
import { SOURCE_BLOCKS, SOURCE_BLOCK_SIZE, deterministicSha } from '../helpers/port-data.js';

const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
for (const bin of ['slirp4netns', 'pasta']) {
  if (!has(bin)) test(`${bin} is installed`, (t) => t.fail(`${bin} missing: run scripts/setup-test-env.sh`));
}
const withSlirp = e2eUnless(has('slirp4netns') ? undefined : 'slirp4netns is not installed');
const withPasta = e2eUnless(has('pasta') ? undefined : 'pasta is not installed');

async function bigEcho(t: ExecutionContext, port: number, host = '127.0.0.1'): Promise<void> {
  const payload = randomBytes(64 << 20);
  const back = await exchange(port, host, payload);
  t.is(back.length, payload.length, '64 MiB back');
  t.is(sha(back), sha(payload), 'sha256 matches');
}

const BUILTIN = ['--net=none', '--port-driver=builtin'];

// --- builtin ----------------------------------------------------------------

e2e('builtin: tcp, tcp6 and udp reach the servers inside', async (t) => {
  const s = await portSession(t, 3, ([a, b, c]) => [...BUILTIN, '-p', `127.0.0.1:${a}:80/tcp`, '-p', `[::1]:${b}:80/tcp6`, '-p', `127.0.0.1:${c}:53/udp`], ['tcp-echo:80', 'udp-echo:53']);
  const [a, b, c] = s.ports as [number, number, number];
  t.is((await exchange(a, '127.0.0.1', 'over tcp')).toString(), 'over tcp');
  t.is((await exchange(b, '::1', 'over tcp6')).toString(), 'over tcp6');
  t.is(await udpExchange(c, '127.0.0.1', 'over udp'), 'over udp');
  await s.stop();
});

e2e('builtin: 64 MiB each way with matching sha256', async (t) => {
  const s = await portSession(t, 1, ([p]) => [...BUILTIN, '-p', `127.0.0.1:${p}:80/tcp`], ['tcp-echo:80']);
  await bigEcho(t, s.ports[0]!);
  await s.stop();
});

e2e('builtin: 200 concurrent connections', async (t) => {
  const s = await portSession(t, 1, ([p]) => [...BUILTIN, '-p', `127.0.0.1:${p}:80/tcp`], ['tcp-echo:80']);
  const results = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const msg = `connection ${i} `.repeat(500);
      return (await exchange(s.ports[0]!, '127.0.0.1', msg)).toString() === msg;
    }),
  );
  t.is(results.filter(Boolean).length, 200);
  await s.stop();
});

e2e('builtin: half-close: the client shuts down writing and still reads the reply', async (t) => {
  const s = await portSession(t, 1, ([p]) => [...BUILTIN, '-p', `127.0.0.1:${p}:81/tcp`], ['count:81']);
  const body = randomBytes(3 << 20);
  // The server answers only once it has read EOF.
  t.is((await exchange(s.ports[0]!, '127.0.0.1', body)).toString(), `${body.length} ${sha(body)}`);
  await s.stop();
});

e2e('builtin: nothing listening inside: the host connection is reset, the session unharmed', async (t) => {
  const s = await portSession(t, 1, ([p]) => [...BUILTIN, '-p', `127.0.0.1:${p}:99/tcp`], ['tcp-echo:80']);
  const c = connect(s.ports[0]!, '127.0.0.1');
  const outcome = await new Promise<string>((res) => {
    c.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
    c.on('data', () => res('data'));
    c.on('close', () => res('closed'));
  });
  t.true(outcome === 'ECONNRESET' || outcome === 'closed', outcome);
  t.is(s.child.exitCode, null);
  await s.stop();
});

e2e('builtin: a parent port in use on the host: one line naming the spec, nothing left behind', async (t) => {
  // The blocker holds its port for the whole test; the other port is the kernel's.
  const blocker = createServer();
  await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
  t.teardown(() => void blocker.close());
  const taken = (blocker.address() as { port: number }).port;
  const stateDir = join(userDir('rootless-ports-conflict-', t), 'state');
  const r = await runWithPorts(1, ([free]) => ['run', '--state-dir', stateDir, ...BUILTIN, '-p', `127.0.0.1:${free}:80/tcp`, '-p', `127.0.0.1:${taken}:80/tcp`, '--', 'true']);
  t.is(r.code, 125, r.stderr);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.true(r.stderr.includes(`127.0.0.1:${taken}:80/tcp`) && /already in use/.test(r.stderr), r.stderr);
  // Nothing half-published: the first port is closed again, no files left.
  t.true(await refused(r.ports[0]!));
  t.deepEqual(existsSync(stateDir) ? readdirSync(stateDir) : [], []);
});

e2e('bad -p specs: exit 2, one line naming the spec, before anything starts', async (t) => {
  for (const [spec, re] of [
    ['127.0.0.1:70000:80/tcp', /parent port 70000 is outside 1-65535/],
    ['127.0.0.1:22060:80/xyz', /unknown proto "xyz"/],
    ['::1:22060:80/tcp', /brackets/],
  ] as const) {
    const r = await run(U, ['run', ...BUILTIN, '-p', spec, '--', 'true']);
    t.is(r.code, 2, r.stderr);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.true(r.stderr.includes(JSON.stringify(spec)), r.stderr);
    t.regex(r.stderr, re);
  }
  // Refused while parsing, before any bind: the number need not be free.
  const twice = await run(U, ['run', ...BUILTIN, '-p', '22061:80', '-p', '22061:81/tcp', '--', 'true']);
  t.is(twice.code, 2);
  t.regex(twice.stderr, /already published/);
});

e2e('builtin: the forwarding ends with the session, and the relay with it', async (t) => {
  const s = await portSession(t, 1, ([p]) => [...BUILTIN, '-p', `127.0.0.1:${p}:82/tcp`], ['hold:82']);
  const c = connect(s.ports[0]!, '127.0.0.1');
  const closed = new Promise<void>((res) => c.on('close', () => res()));
  c.on('error', () => {});
  await once(c, 'data');
  const pid = s.child.pid!;
  await s.stop();
  // The open connection is closed, the port refuses, the launcher is gone.
  await closed;
  t.false(await alive(pid));
  t.true(await refused(s.ports[0]!));
});

e2e('builtin: api.sock is 0600 and appears only once every -p port listens', async (t) => {
  const s = await portSession(t, 1, ([p]) => [...BUILTIN, '-p', `127.0.0.1:${p}:80/tcp`], ['tcp-echo:80']);
  const st = statSync(join(s.stateDir!, 'api.sock'));
  t.true(st.isSocket());
  t.is(st.mode & 0o777, 0o600);
  t.is(st.uid, U.uid);
  t.is((await exchange(s.ports[0]!, '127.0.0.1', 'x')).toString(), 'x');
  await s.stop();
});

// --- slirp4netns ------------------------------------------------------------

withSlirp('slirp4netns driver: tcp and udp, 64 MiB each way', async (t) => {
  const s = await portSession(t, 2, ([a, b]) => ['--net=slirp4netns', '--port-driver=slirp4netns', '-p', `127.0.0.1:${a}:80/tcp`, '-p', `127.0.0.1:${b}:53/udp`], ['tcp-echo:80', 'udp-echo:53']);
  const [a, b] = s.ports as [number, number];
  t.is((await exchange(a, '127.0.0.1', 'via slirp4netns')).toString(), 'via slirp4netns');
  t.is(await udpExchange(b, '127.0.0.1', 'udp via slirp4netns'), 'udp via slirp4netns');
  await bigEcho(t, a);
  await s.stop();
});

withSlirp('slirp4netns driver: a parent port in use is one line naming the spec', async (t) => {
  const blocker = createServer();
  await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
  t.teardown(() => void blocker.close());
  const taken = (blocker.address() as { port: number }).port;
  const r = await run(U, ['run', '--net=slirp4netns', '--port-driver=slirp4netns', '-p', `127.0.0.1:${taken}:80/tcp`, '--', 'true']);
  t.is(r.code, 125, r.stderr);
  t.true(r.stderr.includes(`127.0.0.1:${taken}:80/tcp`) && /already in use/.test(r.stderr), r.stderr);
  t.is(r.stderr.trim().split('\n').filter((l) => !l.startsWith('rootless: warning: ')).length, 1, r.stderr);
});

withSlirp('builtin driver over --net=slirp4netns: tcp6 and udp', async (t) => {
  const s = await portSession(t, 2, ([a, b]) => ['--net=slirp4netns', '--port-driver=builtin', '-p', `[::1]:${a}:80/tcp6`, '-p', `127.0.0.1:${b}:53/udp`], ['tcp-echo:80', 'udp-echo:53']);
  const [a, b] = s.ports as [number, number];
  t.is((await exchange(a, '::1', 'v6 via builtin')).toString(), 'v6 via builtin');
  t.is(await udpExchange(b, '127.0.0.1', 'udp via builtin'), 'udp via builtin');
  await s.stop();
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
  const s = await portSession(
    t,
    4,
    ([a, b, c, d]) => ['--net=pasta', '--port-driver=implicit', '-p', `127.0.0.1:${a}:80/tcp`, '-p', `${b}:53/udp`, '-p', `127.0.0.1:${c}:81/tcp`, '-p', `127.0.0.1:${d}:83/tcp`],
    ['tcp-echo:80', 'udp-echo:53', 'count:81', 'source:83'],
  );
  const [a, b, c, d] = s.ports as [number, number, number, number];
  t.is((await exchange(a, '127.0.0.1', 'via pasta')).toString(), 'via pasta');
  // pasta's loopback ("spliced") UDP path loses the replies with Debian
  // 12's passt on this kernel (pasta alone does the same); its tap path,
  // taken for the host's own non-loopback address, works.
  const local = localAddress();
  if (local === undefined) t.log('no non-loopback address on this host: pasta UDP not exercised');
  else t.is(await udpExchange(b, local, 'udp via pasta'), 'udp via pasta');
  // 64 MiB each way, one way at a time, and no half-close before data
  // comes back: Debian 12's pasta (alone too) now and then drops the tail
  // of what flows towards a client that has shut down its writing.
  const up = randomBytes(64 << 20);
  t.is((await exchange(c, '127.0.0.1', up)).toString(), `${up.length} ${sha(up)}`, '64 MiB in');
  const down = await readAll(connect(d, '127.0.0.1'));
  t.is(down.length, SOURCE_BLOCKS * SOURCE_BLOCK_SIZE, '64 MiB out');
  t.is(sha(down), deterministicSha());
  const ls = await run(U, ['ports', '--state-dir', s.stateDir!, 'ls', '--json']);
  t.is(ls.code, 0, ls.stderr);
  const ports = JSON.parse(ls.stdout) as { id: number; spec: { proto: string; parentPort: number } }[];
  t.deepEqual(ports.map((p) => [p.spec.proto, p.spec.parentPort]), [['tcp', a], ['udp', b], ['tcp', c], ['tcp', d]]);
  const [other] = await freePorts(1);
  const add = await run(U, ['ports', '--state-dir', s.stateDir!, 'add', `127.0.0.1:${other}:80/tcp`]);
  t.is(add.code, 1);
  t.regex(add.stderr, /cannot change ports while the session runs/);
  t.is(add.stderr.trim().split('\n').length, 1);
  const rm = await run(U, ['ports', '--state-dir', s.stateDir!, 'rm', '1']);
  t.is(rm.code, 1);
  t.regex(rm.stderr, /cannot change ports/);
  // Still forwarding.
  t.is((await exchange(a, '127.0.0.1', 'still')).toString(), 'still');
  await s.stop();
});

e2e('builtin: an idle established connection is not closed by the relay', async (t) => {
  const s = await portSession(t, 1, ([p]) => [...BUILTIN, '-p', `127.0.0.1:${p}:80/tcp`], ['tcp-echo:80']);
  const c = connect(s.ports[0]!, '127.0.0.1');
  await once(c, 'connect');
  c.write('a');
  await once(c, 'data');
  // Idleness is what is tested: time passing is the point here, not a wait for something.
  await new Promise((r) => setTimeout(r, 1500));
  c.write('b');
  const [d] = (await once(c, 'data')) as [Buffer];
  t.is(d.toString(), 'b');
  c.destroy();
  t.is(s.child.exitCode, null);
  await s.stop();
});

// --- faults -----------------------------------------------------------------

e2e('builtin: the child killed mid-session: the session ends with an error, the port closes', async (t) => {
  const s = await portSession(t, 1, ([p]) => [...BUILTIN, '-p', `127.0.0.1:${p}:80/tcp`], ['tcp-echo:80']);
  const held = connect(s.ports[0]!, '127.0.0.1');
  held.on('error', () => {});
  await once(held, 'connect');
  const childPid = Number(readFileSync(join(s.stateDir!, 'child_pid'), 'utf8'));
  process.kill(childPid, 'SIGKILL');
  const r = await s.done;
  t.not(r.code, 0);
  t.regex(r.stderr, /child/);
  t.true(await refused(s.ports[0]!));
  await new Promise<void>((res) => (held.destroyed ? res() : held.on('close', () => res())));
});

e2e('builtin: the launcher SIGKILLed: the port closes and the child goes with it', async (t) => {
  const s = await portSession(t, 1, ([p]) => [...BUILTIN, '-p', `127.0.0.1:${p}:80/tcp`, '-p', `127.0.0.1:${p}:53/udp`], ['tcp-echo:80', 'udp-echo:53']);
  const port = s.ports[0]!;
  const childPid = Number(readFileSync(join(s.stateDir!, 'child_pid'), 'utf8'));
  s.child.kill('SIGKILL');
  await s.done;
  t.true(await eventually(async () => !(await alive(childPid)), 30_000), 'the child dies with the launcher');
  t.true(await refused(port));
  // The UDP port is free again: it can be bound here.
  const u = createSocket('udp4');
  const bound = await new Promise<string>((res) => {
    u.once('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
    u.bind(port, '127.0.0.1', () => res('bound'));
  });
  u.close();
  t.is(bound, 'bound', 'the UDP port is released');
});

e2e('builtin with --detach-netns: connections go into the detached namespace', async (t) => {
  // The target stays in the host's network namespace; the server runs in
  // the detached one ($ROOTLESSKIT_STATE_DIR/netns), entered with nsenter.
  const script = `nsenter --net=$ROOTLESSKIT_STATE_DIR/netns ${process.execPath} ${TARGET} tcp-echo:80`;
  const s = await portSession(t, 1, ([p]) => ['--net=slirp4netns', '--detach-netns', '--port-driver=builtin', '-p', `127.0.0.1:${p}:80/tcp`], [], {
    command: ['sh', '-c', script],
  });
  t.is((await exchange(s.ports[0]!, '127.0.0.1', 'into the detached netns')).toString(), 'into the detached netns');
  await s.stop();
});
