// End-to-end: published ports keep the client's address
// (--source-ip-transparent, builtin port driver). The clients are real
// remote peers: the test makes, as root, a network namespace joined to the
// host by a veth pair, with addresses from the ranges reserved for
// benchmarks and documentation (198.18.0.0/15, 2001:db8::/32), so nothing
// leaves this machine. The sessions run as the unprivileged test user; the
// server inside (test/helpers/port-target.ts tcp-peer / udp-peer) answers
// the peer address it sees. Names, subnets and host ports are unique per
// run (two suite runs may share the machine); the namespace and the veth
// pair are removed at the end.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collect, start, waitFor } from '../helpers/rootless.js';
import { launcherUser, type TestUser } from '../helpers/user.js';

const TARGET = fileURLToPath(new URL('../helpers/port-target.js', import.meta.url));
const CLIENT = fileURLToPath(new URL('../helpers/peer-client.js', import.meta.url));
const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

const who = launcherUser();
const isRoot = process.getuid?.() === 0;
const why = typeof who === 'string' ? who : !isRoot ? `making a network namespace and a veth pair needs root (running as uid ${process.getuid?.()})` : !has('ip') ? 'iproute2 (ip) is missing' : undefined;
if (typeof who === 'string') test('end-to-end environment', (t) => t.fail(who));
else if (why !== undefined) test.skip(`srcip: skipped: ${why}`, () => {});
const U = who as TestUser;
const e2e = why === undefined ? test.serial : test.skip;

// ---- the peer namespace -------------------------------------------------------

const tag = randomBytes(3).toString('hex');
const NS = `rlsrc-${tag}`;
const VETH_HOST = `rlsh${tag}`;
const VETH_PEER = `rlsp${tag}`;
// A /24 out of 198.18.0.0/15 and a /64 out of 2001:db8::/32, per run.
const net4 = `198.${18 + randomInt(2)}.${randomInt(256)}`;
const net6 = `2001:db8:${randomInt(0x10000).toString(16)}:${randomInt(0x10000).toString(16)}`;
const HOST4 = `${net4}.1`;
const HOST6 = `${net6}::1`;
/** The peer's addresses: .2 .. .51 (50 concurrent clients, one each). */
const PEERS4 = Array.from({ length: 50 }, (_, i) => `${net4}.${i + 2}`);
const PEER6 = `${net6}::2`;

function ip(args: string[], inNs = false): void {
  const argv = inNs ? ['netns', 'exec', NS, 'ip', ...args] : args;
  const r = spawnSync('ip', argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${argv.join(' ')}: ${r.stderr.trim()}`);
}

if (why === undefined) {
  test.before(() => {
    ip(['netns', 'add', NS]);
    ip(['link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_PEER, 'netns', NS]);
    ip(['addr', 'add', `${HOST4}/24`, 'dev', VETH_HOST]);
    ip(['-6', 'addr', 'add', `${HOST6}/64`, 'dev', VETH_HOST, 'nodad']);
    ip(['link', 'set', VETH_HOST, 'up']);
    ip(['link', 'set', 'lo', 'up'], true);
    for (const a of PEERS4) ip(['addr', 'add', `${a}/24`, 'dev', VETH_PEER], true);
    ip(['-6', 'addr', 'add', `${PEER6}/64`, 'dev', VETH_PEER, 'nodad'], true);
    ip(['link', 'set', VETH_PEER, 'up'], true);
  });
  test.after.always(() => {
    // The peer end goes with the namespace, and the pair with it.
    spawnSync('ip', ['netns', 'del', NS]);
    spawnSync('ip', ['link', 'del', VETH_HOST]);
  });
}

interface ClientReq {
  proto: 'tcp' | 'udp';
  host: string;
  port: number;
  bind?: string;
  send?: string;
}
interface ClientRes {
  local?: string;
  reply?: string;
  error?: string;
}

/** Runs test/helpers/peer-client.ts in the peer namespace (or on the host). */
function clients(reqs: ClientReq[], inPeer = true): ClientRes[] {
  const argv = [process.execPath, CLIENT, JSON.stringify(reqs)];
  const r = inPeer ? spawnSync('ip', ['netns', 'exec', NS, ...argv], { encoding: 'utf8' }) : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`peer-client: ${r.status} ${r.stderr}`);
  return JSON.parse(r.stdout) as ClientRes[];
}

// ---- sessions -------------------------------------------------------------------

/** A port number free for TCP and UDP, IPv4 and IPv6, from the kernel. */
async function freePort(): Promise<number> {
  for (;;) {
    const srv = createServer();
    srv.listen(0, '::');
    await once(srv, 'listening');
    const port = (srv.address() as AddressInfo).port;
    const u = createSocket({ type: 'udp6', ipv6Only: false });
    const ok = await new Promise<boolean>((res) => {
      u.once('error', () => res(false));
      u.bind(port, '::', () => res(true));
    });
    if (ok) u.close();
    srv.close();
    if (ok) return port;
  }
}

interface Session {
  p4: number;
  p6: number;
  api: string;
  stop(): Promise<string>;
}

/** A session serving tcp-peer:80 and udp-peer:53, published on p4 (IPv4) and p6 (IPv6). */
async function session(t: ExecutionContext, flags: readonly string[]): Promise<Session> {
  const p4 = await freePort();
  const p6 = await freePort();
  const base = mkdtempSync(join(tmpdir(), 'rootless-srcip-'));
  if (U.switchTo) chownSync(base, U.uid, U.gid);
  const stateDir = join(base, 'state');
  const child = start(U, [
    'run', '--state-dir', stateDir, '--port-driver=builtin', ...flags,
    '-p', `0.0.0.0:${p4}:80/tcp`, '-p', `0.0.0.0:${p4}:53/udp`, '-p', `[::]:${p6}:80/tcp6`, '-p', `[::]:${p6}:53/udp6`,
    // --detach-netns: the target stays in the host's network namespace;
    // the server runs in the detached one.
    '--', ...(flags.includes('--detach-netns')
      ? ['sh', '-c', `exec nsenter --net=$ROOTLESSKIT_STATE_DIR/netns ${process.execPath} ${TARGET} tcp-peer:80 udp-peer:53`]
      : [process.execPath, TARGET, 'tcp-peer:80', 'udp-peer:53']),
  ]);
  const done = collect(child, 600_000);
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(base, { recursive: true, force: true });
  });
  const ended = done.then((r) => {
    throw new Error(`the session ended before it was ready: ${r.code} ${r.stderr}`);
  });
  await Promise.race([waitFor(child.stdout!, /ready/, 60_000), ended]);
  return {
    p4,
    p6,
    api: join(stateDir, 'api.sock'),
    stop: async () => {
      child.kill('SIGTERM');
      const r = await done;
      return r.stderr;
    },
  };
}

function info(api: string): Promise<{ portDriver?: { sourceIPTransparent?: boolean } }> {
  return new Promise((res, rej) => {
    const req = request({ socketPath: api, path: '/v1/info' }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (d: Buffer) => chunks.push(d));
      r.on('end', () => res(JSON.parse(Buffer.concat(chunks).toString())));
    });
    req.on('error', rej);
    req.end();
  });
}

/** Each client's reply is the address and port it connected from. */
function assertSeenAsItself(t: ExecutionContext, res: ClientRes[], what: string): void {
  for (const [i, r] of res.entries()) {
    t.is(r.error, undefined, `${what} #${i}`);
    t.is(r.reply, r.local, `${what} #${i}: the server saw the client's address and port`);
  }
}

const peerReqs = (s: Session): ClientReq[] => [
  { proto: 'tcp', host: HOST4, port: s.p4, bind: PEERS4[0] },
  { proto: 'udp', host: HOST4, port: s.p4, bind: PEERS4[0] },
  { proto: 'tcp', host: HOST6, port: s.p6, bind: PEER6 },
  { proto: 'udp', host: HOST6, port: s.p6, bind: PEER6 },
];

// ---- the cases ------------------------------------------------------------------

e2e('slirp4netns: tcp4, udp4, tcp6, udp6 from a remote peer are seen with its address and port; /v1/info says so', async (t) => {
  const s = await session(t, ['--net=slirp4netns']);
  const res = clients(peerReqs(s));
  assertSeenAsItself(t, res, 'tcp4 udp4 tcp6 udp6');
  t.regex(res[0]?.reply ?? '', new RegExp(`^${PEERS4[0]!.replace(/\./g, '\\.')} \\d+$`));
  t.regex(res[2]?.reply ?? '', new RegExp(`^${PEER6} \\d+$`));
  t.is((await info(s.api)).portDriver?.sourceIPTransparent, true);
  const stderr = await s.stop();
  t.notRegex(stderr, /source-ip-transparent/, 'no warning');
});

e2e('50 concurrent clients, each on its own address, TCP and UDP, are each seen as themselves', async (t) => {
  const s = await session(t, ['--net=slirp4netns']);
  const reqs: ClientReq[] = PEERS4.flatMap((bind): ClientReq[] => [
    { proto: 'tcp', host: HOST4, port: s.p4, bind },
    { proto: 'udp', host: HOST4, port: s.p4, bind },
  ]);
  const res = clients(reqs);
  assertSeenAsItself(t, res, 'concurrent');
  t.is(new Set(res.map((r) => r.reply?.split(' ')[0])).size, 50, '50 distinct addresses');
  await s.stop();
});

e2e('--source-ip-transparent=false: the old behaviour, clients are seen as 127.0.0.1 and ::1; /v1/info says false', async (t) => {
  const s = await session(t, ['--net=slirp4netns', '--source-ip-transparent=false']);
  const res = clients(peerReqs(s));
  t.deepEqual(res.map((r) => r.error), [undefined, undefined, undefined, undefined]);
  t.deepEqual(res.map((r) => r.reply?.split(' ')[0]), ['127.0.0.1', '127.0.0.1', '::1', '::1']);
  t.is((await info(s.api)).portDriver?.sourceIPTransparent, false);
  await s.stop();
});

e2e('a loopback client bound to 127.0.0.2 is seen as 127.0.0.2; a host address as itself', async (t) => {
  const s = await session(t, ['--net=slirp4netns']);
  const res = clients([
    { proto: 'tcp', host: '127.0.0.1', port: s.p4, bind: '127.0.0.2' },
    { proto: 'udp', host: '127.0.0.1', port: s.p4, bind: '127.0.0.2' },
    { proto: 'tcp', host: '::1', port: s.p6, bind: '::1' },
    { proto: 'tcp', host: HOST4, port: s.p4, bind: HOST4 },
  ], false);
  assertSeenAsItself(t, res, 'loopback and host');
  t.regex(res[0]?.reply ?? '', /^127\.0\.0\.2 \d+$/);
  await s.stop();
});

for (const [name, flags] of [
  ['--disable-host-loopback', ['--net=slirp4netns', '--disable-host-loopback']],
  ['--detach-netns', ['--net=slirp4netns', '--detach-netns']],
  ['--net=pasta', ['--net=pasta']],
  ['--net=none', ['--net=none']],
] as const) {
  e2e(`${name}: remote peers are seen as themselves (tcp4, udp4, tcp6, udp6)`, async (t) => {
    if (name === '--net=pasta' && !has('pasta')) return t.fail('pasta missing: run scripts/setup-test-env.sh');
    const s = await session(t, flags);
    assertSeenAsItself(t, clients(peerReqs(s)), name);
    t.is((await info(s.api)).portDriver?.sourceIPTransparent, true);
    await s.stop();
  });
}

e2e('connection semantics stay: nothing listening inside resets a remote client; a UDP flow per client port', async (t) => {
  const p = await freePort();
  const base = mkdtempSync(join(tmpdir(), 'rootless-srcip-'));
  if (U.switchTo) chownSync(base, U.uid, U.gid);
  const child = start(U, ['run', '--state-dir', join(base, 'state'), '--net=slirp4netns', '--port-driver=builtin', '-p', `0.0.0.0:${p}:81/tcp`, '-p', `0.0.0.0:${p}:53/udp`, '--', process.execPath, TARGET, 'udp-peer:53']);
  const done = collect(child, 600_000);
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(base, { recursive: true, force: true });
  });
  await waitFor(child.stdout!, /ready/, 60_000);
  const res = clients([
    { proto: 'tcp', host: HOST4, port: p, bind: PEERS4[1] },
    // Two flows from one address, two ports: two flow sockets inside.
    { proto: 'udp', host: HOST4, port: p, bind: PEERS4[1] },
    { proto: 'udp', host: HOST4, port: p, bind: PEERS4[1] },
  ]);
  t.is(res[0]?.error, 'ECONNRESET', 'refused inside: the host connection is reset');
  const st = await info(join(base, 'state', 'api.sock'));
  t.is(st.portDriver?.sourceIPTransparent, true);
  assertSeenAsItself(t, res.slice(1), 'udp flows');
  t.not(res[1]?.local, res[2]?.local);
  child.kill('SIGTERM');
  await done;
});
