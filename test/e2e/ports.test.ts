// End-to-end: port forwarding from the host into the namespace, as the
// unprivileged user, with the real launcher, real namespaces, and the real
// slirp4netns and pasta. Servers inside are test/helpers/port-target.ts;
// clients run here, on the host side, on host ports the kernel picks.
// What every driver must do (tcp, udp, tcp6, half-close, refused inside,
// runtime changes, 64 MiB) is port-drivers.test.ts; here is what is
// particular to one driver: conflicts, faults, limits, the relay's life.
import test from 'ava';
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  TARGET, U, alive, e2e, e2eUnless, eventually, exchange, portSession, refused, run, runWithPorts, userDir,
} from '../helpers/e2e.js';

const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
for (const bin of ['slirp4netns', 'pasta']) {
  if (!has(bin)) test(`${bin} is installed`, (t) => t.fail(`${bin} missing: run scripts/setup-test-env.sh`));
}
const withSlirp = e2eUnless(has('slirp4netns') ? undefined : 'slirp4netns is not installed');
const withPasta = e2eUnless(has('pasta') ? undefined : 'pasta is not installed');

const BUILTIN = ['--net=none', '--port-driver=builtin'];

// --- builtin ----------------------------------------------------------------

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

// --- implicit (pasta) --------------------------------------------------------

withPasta('implicit driver (pasta): the ports given at start are listed, in order, with their protos', async (t) => {
  const s = await portSession(
    t,
    3,
    ([a, b, c]) => ['--net=pasta', '--port-driver=implicit', '-p', `127.0.0.1:${a}:80/tcp`, '-p', `${b}:53/udp`, '-p', `127.0.0.1:${c}:81/tcp`],
    ['tcp-echo:80', 'udp-echo:53', 'count:81'],
  );
  const [a, b, c] = s.ports as [number, number, number];
  const ls = await run(U, ['ports', '--state-dir', s.stateDir!, 'ls', '--json']);
  t.is(ls.code, 0, ls.stderr);
  const ports = JSON.parse(ls.stdout) as { id: number; spec: { proto: string; parentPort: number } }[];
  t.deepEqual(ports.map((p) => [p.id, p.spec.proto, p.spec.parentPort]), [[1, 'tcp', a], [2, 'udp', b], [3, 'tcp', c]]);
  t.is((await exchange(a, '127.0.0.1', 'via pasta')).toString(), 'via pasta');
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
