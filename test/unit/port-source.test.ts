// Keeping the client's address (--source-ip-transparent), the parts that
// need no namespace: the wire format carries the client's address from the
// relay to the connector (loopback clients, whose addresses are local
// everywhere, in one process), the status and counters, the netlink
// requests the connector builds, and the flag. test/e2e/srcip.test.ts has
// remote clients through a real namespace.
import test from 'ava';
import { readFileSync, readlinkSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import {
  SOURCE_LOOPBACK_ONLY, SOURCE_OFF, createRelay, encodeNetlink, listenSocket, relayAdd, relayStats, relayStop, socketpairSeqpacket, startConnector,
  type SourceStatus,
} from '../../src/sys/native.js';
import { parseRunFlags } from '../../src/cli/flags.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { launcherUser } from '../helpers/user.js';

/** The port the kernel gave a socket bound to port 0 (from /proc/net/*). */
function boundPort(fd: number, table: 'tcp' | 'tcp6' | 'udp' | 'udp6'): number {
  const inode = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
  for (const line of readFileSync(`/proc/net/${table}`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[9] === inode) return parseInt((f[1] ?? '').split(':')[1] ?? '', 16);
  }
  throw new Error(`no ${table} socket with inode ${inode}`);
}

interface Rig {
  relay: number;
  status: SourceStatus;
}

function rig(mode: number): Rig {
  const [a, b] = socketpairSeqpacket();
  const relay = createRelay([a], { udpIdleMs: 60_000, pipeSize: 0 }, () => {});
  const status = startConnector([b], 30_000, undefined, mode);
  return { relay, status };
}

function listen(s: Server, host: string): Promise<number> {
  return new Promise((res, rej) => {
    s.once('error', rej);
    s.listen(0, host, () => res((s.address() as AddressInfo).port));
  });
}

/** The peer the inner server saw for one TCP connection from `from`. */
async function tcpPeer(mode: number, host: string, from: string): Promise<{ seen: string; local: string; rig: Rig }> {
  const r = rig(mode);
  const seen: string[] = [];
  const inner = createServer((s) => {
    seen.push(`${s.remoteAddress} ${s.remotePort}`);
    s.end('x');
  });
  try {
    const innerPort = await listen(inner, host);
    const fd = listenSocket('tcp', host, 0, host.includes(':') ? 1 : -1, false);
    const port = boundPort(fd, host.includes(':') ? 'tcp6' : 'tcp');
    relayAdd(r.relay, 1, 'tcp', [fd], host, innerPort);
    const c = connect({ port, host, localAddress: from });
    await once(c, 'connect');
    const local = `${c.localAddress} ${c.localPort}`;
    c.resume();
    await once(c, 'end');
    c.destroy();
    return { seen: seen[0] ?? '', local, rig: r };
  } finally {
    inner.close();
    relayStop(r.relay);
  }
}

test('tcp: a client bound to 127.0.0.2 is seen as 127.0.0.2 and its port', async (t) => {
  const { seen, local, rig: r } = await tcpPeer(SOURCE_LOOPBACK_ONLY, '127.0.0.1', '127.0.0.2');
  t.is(seen, local);
  t.true(r.status.on);
});

test('tcp6: a client on ::1 is seen as ::1 and its port', async (t) => {
  const { seen, local } = await tcpPeer(SOURCE_LOOPBACK_ONLY, '::1', '::1');
  t.is(seen, local);
});

test('tcp: with the option off, the client is seen as the connector\'s own 127.0.0.1', async (t) => {
  const { seen, local, rig: r } = await tcpPeer(SOURCE_OFF, '127.0.0.1', '127.0.0.2');
  t.regex(seen, /^127\.0\.0\.1 \d+$/);
  t.not(seen, local);
  t.false(r.status.on);
  t.is(r.status.warning, undefined);
});

test('udp: a client bound to 127.0.0.2 is seen as 127.0.0.2; the flow counts as kept; the status is reported', async (t) => {
  const r = rig(SOURCE_LOOPBACK_ONLY);
  const inner = createSocket('udp4');
  inner.on('message', (_m, from) => inner.send(`${from.address} ${from.port}`, from.port, from.address));
  inner.bind(0, '127.0.0.1');
  await once(inner, 'listening');
  // In one namespace the connector's flow socket binds the client's own
  // address and port too: both need SO_REUSEADDR (across namespaces, as in
  // a session, they do not meet).
  const client: UdpSocket = createSocket({ type: 'udp4', reuseAddr: true });
  try {
    const fd = listenSocket('udp', '127.0.0.1', 0, -1, false);
    const port = boundPort(fd, 'udp');
    relayAdd(r.relay, 1, 'udp', [fd], '127.0.0.1', inner.address().port);
    client.bind(0, '127.0.0.2');
    await once(client, 'listening');
    const reply = once(client, 'message');
    client.send('hi', port, '127.0.0.1');
    const [m] = (await reply) as [Buffer];
    t.is(m.toString(), `127.0.0.2 ${client.address().port}`);
    const st = relayStats(r.relay);
    t.is(st.sourceKept, 1);
    t.is(st.sourceNotKept, 0);
    t.deepEqual(st.source, { on: true, ipv6: true, udp: false });
  } finally {
    client.close();
    inner.close();
    relayStop(r.relay);
  }
});

test('the kernel refuses the setup: one warning naming the step, and the port works from the loopback address', (t) => {
  // As an unprivileged user in the host's namespaces the first step (the
  // sysctl) is refused for real; as root it would succeed on the host, so
  // root runs it as the test user.
  const script = fileURLToPath(new URL('../helpers/source-refused.js', import.meta.url));
  let argv = [process.execPath, script];
  if (process.geteuid?.() === 0) {
    const u = launcherUser();
    if (typeof u === 'string') return t.fail(u);
    argv = ['runuser', '-u', u.name, '--', ...argv];
  }
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: '/tmp' });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { status: SourceStatus; seen: string; local: string };
  t.false(out.status.on);
  t.regex(out.status.warning ?? '', /^net\.ipv4\.tcp_fwmark_accept: E(ACCES|PERM)$/);
  t.regex(out.seen, /^127\.0\.0\.1 \d+$/, 'relayed, from the loopback address');
  t.true(out.local.startsWith('127.0.0.2 '));
});

// ---- netlink requests -------------------------------------------------------

interface Decoded {
  type: number;
  flags: number;
  /** The fixed header after nlmsghdr (fib_rule_hdr or rtmsg: 12 bytes). */
  head: Buffer;
  attrs: Map<number, Buffer>;
}

function decode(b: Buffer): Decoded {
  const len = b.readUInt32LE(0);
  if (len !== b.length) throw new Error(`nlmsg_len ${len} != ${b.length}`);
  const attrs = new Map<number, Buffer>();
  for (let off = 16 + 12; off < len; ) {
    const alen = b.readUInt16LE(off);
    attrs.set(b.readUInt16LE(off + 2), b.subarray(off + 4, off + alen));
    off += (alen + 3) & ~3;
  }
  return { type: b.readUInt16LE(4), flags: b.readUInt16LE(6), head: b.subarray(16, 28), attrs };
}

const NLM_F_REQUEST = 1, NLM_F_ACK = 4, NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400;
const FRA_PRIORITY = 6, FRA_FWMARK = 10, FRA_TABLE = 15, FRA_FWMASK = 16, FRA_IP_PROTO = 22, FRA_SPORT_RANGE = 23;
const RTA_DST = 1, RTA_OIF = 4, RTA_PREFSRC = 7, RTA_TABLE = 15;

test('netlink: the TCP rule is "fwmark M/0xffffffff lookup T pref P", created exclusively', (t) => {
  const m = decode(encodeNetlink('rule', true, { family: 6, table: 7273, priority: 7273, fwmark: 0x72730001 }));
  t.is(m.type, 32); // RTM_NEWRULE
  t.is(m.flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  t.is(m.head[0], 10); // AF_INET6
  t.is(m.head[7], 1); // FR_ACT_TO_TBL
  t.is(m.attrs.get(FRA_TABLE)?.readUInt32LE(0), 7273);
  t.is(m.attrs.get(FRA_PRIORITY)?.readUInt32LE(0), 7273);
  t.is(m.attrs.get(FRA_FWMARK)?.readUInt32LE(0), 0x72730001);
  t.is(m.attrs.get(FRA_FWMASK)?.readUInt32LE(0), 0xffffffff);
  t.false(m.attrs.has(FRA_IP_PROTO));
  t.false(m.attrs.has(FRA_SPORT_RANGE));
});

test('netlink: a UDP port rule is "ipproto udp sport N lookup T", no fwmark', (t) => {
  const m = decode(encodeNetlink('rule', true, { family: 4, table: 7274, priority: 7274, ipproto: 17, sport: 5353 }));
  t.is(m.head[0], 2); // AF_INET
  t.deepEqual([...(m.attrs.get(FRA_IP_PROTO) ?? [])], [17]);
  const range = m.attrs.get(FRA_SPORT_RANGE);
  t.deepEqual([range?.readUInt16LE(0), range?.readUInt16LE(2)], [5353, 5353]);
  t.false(m.attrs.has(FRA_FWMARK));
  const del = decode(encodeNetlink('rule', false, { family: 4, table: 7274, priority: 7274, ipproto: 17, sport: 5353 }));
  t.is(del.type, 33); // RTM_DELRULE
  t.is(del.flags, NLM_F_REQUEST | NLM_F_ACK);
});

test('netlink: the TCP table\'s route is "local default dev lo"; a UDP client\'s is "local CLIENT/32 dev lo src TARGET"', (t) => {
  const def = decode(encodeNetlink('route', true, { family: 4, table: 7273 }));
  t.is(def.type, 24); // RTM_NEWROUTE
  t.is(def.head[1], 0); // dst_len: default
  t.is(def.head[6], 254); // RT_SCOPE_HOST
  t.is(def.head[7], 2); // RTN_LOCAL
  t.is(def.attrs.get(RTA_TABLE)?.readUInt32LE(0), 7273);
  t.is(def.attrs.get(RTA_OIF)?.readUInt32LE(0), 1); // lo
  t.false(def.attrs.has(RTA_DST));
  t.false(def.attrs.has(RTA_PREFSRC));
  const client = decode(encodeNetlink('route', true, { family: 6, table: 7275, dst: '2001:db8::2', prefsrc: '::1' }));
  t.is(client.head[1], 128);
  t.deepEqual(client.attrs.get(RTA_DST), Buffer.from('20010db8000000000000000000000002', 'hex'));
  t.deepEqual(client.attrs.get(RTA_PREFSRC), Buffer.from('00000000000000000000000000000001', 'hex'));
  t.is(decode(encodeNetlink('route', false, { family: 6, table: 7275, dst: '2001:db8::2' })).type, 25); // RTM_DELROUTE
  t.throws(() => encodeNetlink('route', true, { family: 4, table: 1, dst: 'nope' }), { message: /dst is not an address: nope/ });
});

// ---- the flag ---------------------------------------------------------------

const parse = (...flags: string[]): unknown => parseRunFlags([...flags, '--port-driver=builtin', '--net=slirp4netns', 'true'], 'run');

test('--source-ip-transparent: true by default; Go booleans; a bad value names the flag', (t) => {
  t.true((parse() as { sourceIPTransparent: boolean }).sourceIPTransparent);
  t.false((parse('--source-ip-transparent=false') as { sourceIPTransparent: boolean }).sourceIPTransparent);
  t.false((parse('--source-ip-transparent=0') as { sourceIPTransparent: boolean }).sourceIPTransparent);
  t.true((parse('--source-ip-transparent') as { sourceIPTransparent: boolean }).sourceIPTransparent);
  t.throws(() => parse('--source-ip-transparent=maybe'), { message: /--source-ip-transparent: invalid boolean value "maybe"/ });
});

test('Node API: sourceIPTransparent: false becomes --source-ip-transparent=false (its default is true)', async (t) => {
  const { runArgv } = await import('../../src/index.js');
  t.deepEqual(runArgv(['x'], { sourceIPTransparent: false, pidns: false }), ['run', '--source-ip-transparent=false', '--', 'x']);
  t.deepEqual(runArgv(['x'], { sourceIPTransparent: true }), ['run', '--source-ip-transparent', '--', 'x']);
});
