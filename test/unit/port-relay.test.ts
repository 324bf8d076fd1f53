// The builtin driver's native data plane, in one process: the relay's
// workers on one end of a SEQPACKET socketpair, the connector (the child's
// half) on the other, and real sockets on loopback. The namespace is left
// out here (test/e2e/ports.test.ts has it); what is tested is the relay:
// splice both ways, half-close, refused connects, removal, UDP flows.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  close, connectUnix, createRelay, listenSocket, recvFds, relayAdd, relayRemove, relayStats, relayStop, sendFds, socketpairSeqpacket, startConnector,
} from '../../src/sys/native.js';
import { SyscallError } from '../../src/sys/errors.js';
import { freePort } from '../helpers/sockets.js';

// Host ports from the kernel (bound to port 0, then released). The relay
// binds them synchronously right after, so the window in which another
// process could take one is a few microseconds.
const port = (): Promise<number> => freePort();

interface Rig {
  relay: number;
  errors: string[];
  stop(): void;
}

function rig(workers = 1, udpIdleMs = 60_000): Rig {
  const parentEnds: number[] = [];
  const childEnds: number[] = [];
  for (let i = 0; i < workers; i++) {
    const [a, b] = socketpairSeqpacket();
    parentEnds.push(a);
    childEnds.push(b);
  }
  const errors: string[] = [];
  const relay = createRelay(parentEnds, { udpIdleMs, pipeSize: 0 }, (m) => errors.push(m));
  startConnector(childEnds);
  return { relay, errors, stop: () => relayStop(relay) };
}

/** A server whose connections may be reset by the relay without crashing the test. */
function server(onConn: (s: Socket) => void): Server {
  return createServer((s) => {
    s.on('error', () => {});
    onConn(s);
  });
}

function listen(server: Server, p: number, host = '127.0.0.1'): Promise<void> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(p, host, () => res());
  });
}

function addTcp(r: Rig, id: number, hostPort: number, childPort: number, host = '127.0.0.1', child = '127.0.0.1', workers = 1): void {
  const fds = Array.from({ length: workers }, () => listenSocket('tcp', host, hostPort, host.includes(':') ? 1 : -1, workers > 1));
  relayAdd(r.relay, id, 'tcp', fds, child, childPort);
}

function readAll(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((res, rej) => {
    s.on('end', () => res(Buffer.concat(chunks)));
    s.on('error', rej);
  });
}

async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

test('tcp: echo through the relay, 64 MiB each way with matching sha256', async (t) => {
  const r = rig();
  const inner = server((s) => s.pipe(s));
  const childPort = await port();
  const hostPort = await port();
  await listen(inner, childPort);
  try {
    addTcp(r, 1, hostPort, childPort);
    const payload = randomBytes(64 << 20);
    const c = connect(hostPort, '127.0.0.1');
    const got = readAll(c);
    c.end(payload);
    const back = await got;
    t.is(back.length, payload.length);
    t.is(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(payload).digest('hex'));
    t.true(await eventually(() => relayStats(r.relay).connsActive === 0), 'the connection is closed once both sides are done');
  } finally {
    r.stop();
    inner.close();
  }
});

test('tcp: half-close: the client shuts down writing and still reads the reply', async (t) => {
  const r = rig();
  const childPort = await port();
  const hostPort = await port();
  // Answers only after it has read everything (EOF).
  const inner = server((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => s.end(`got ${Buffer.concat(chunks).length} bytes`));
  });
  await listen(inner, childPort);
  try {
    addTcp(r, 1, hostPort, childPort);
    const c = connect({ port: hostPort, host: '127.0.0.1', allowHalfOpen: true });
    const got = readAll(c);
    c.end(Buffer.alloc(100_000, 7));
    t.is((await got).toString(), 'got 100000 bytes');
  } finally {
    r.stop();
    inner.close();
  }
});

test('tcp: nothing listening inside resets the host connection promptly', async (t) => {
  const r = rig();
  const hostPort = await port();
  const deadPort = await port();
  try {
    addTcp(r, 1, hostPort, deadPort);
    const c = connect(hostPort, '127.0.0.1');
    const outcome = await new Promise<string>((res) => {
      c.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
      c.on('close', () => res('closed'));
      c.on('data', () => res('data'));
    });
    t.true(['ECONNRESET', 'closed', 'EPIPE'].includes(outcome), outcome);
    // "Promptly", without a clock: the relay counts the refusal before it
    // resets, so the reset the client saw was its answer to the refused
    // connect inside, not a timeout of any kind.
    t.is(relayStats(r.relay).connsRefused, 1, 'the reset answers the refused connect');
  } finally {
    r.stop();
  }
});

test('tcp: a parent port in use is EADDRINUSE naming the address', async (t) => {
  const p = await port();
  const fd = listenSocket('tcp', '127.0.0.1', p, -1, false);
  const err = t.throws(() => listenSocket('tcp', '127.0.0.1', p, -1, false), { instanceOf: SyscallError }) as SyscallError;
  t.is(err.code, 'EADDRINUSE');
  t.regex(err.message, /127\.0\.0\.1:\d+\/tcp/);
  const r = rig();
  relayAdd(r.relay, 1, 'tcp', [fd], '127.0.0.1', 1);
  r.stop();
});

test('tcp: removing a port closes its listener; an established connection finishes', async (t) => {
  const r = rig();
  const inner = server((s) => s.pipe(s));
  const childPort = await port();
  const hostPort = await port();
  await listen(inner, childPort);
  try {
    addTcp(r, 7, hostPort, childPort);
    const c = connect(hostPort, '127.0.0.1');
    await once(c, 'connect');
    c.write('one ');
    await once(c, 'data');
    await relayRemove(r.relay, 7);
    // New connections are refused by the kernel: no listener any more.
    const refused = await new Promise<string>((res) => {
      const d = connect(hostPort, '127.0.0.1');
      d.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
      d.on('connect', () => {
        d.destroy();
        res('connected');
      });
    });
    t.is(refused, 'ECONNREFUSED');
    const got = readAll(c);
    c.end('two');
    t.is((await got).toString(), 'two');
  } finally {
    r.stop();
    inner.close();
  }
});

// splice(2)'s number, to see a worker thread blocked in it (/proc/self/task/*/syscall).
const SPLICE = ({ x64: 275, arm64: 76 } as Record<string, number>)[process.arch];

/** The relay's worker thread (named relay-HANDLE.INDEX) is asleep in splice(2). */
function workerInSplice(relay: number): boolean {
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== `relay-${relay}.0`) continue;
      return readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8').split(' ')[0] === String(SPLICE);
    } catch {
      // the thread ended
    }
  }
  return false;
}

// The worker is held in splice(2) by a blocking socket whose peer only this
// event loop reads: a removal that waited on the JS thread could never see
// that read happen (and the old synchronous one gave up after 5 s).
(SPLICE === undefined ? test.serial.skip : test.serial)('tcp: removal waits in the workers: the event loop runs until it resolves', async (t) => {
  const [parentEnd, childEnd] = socketpairSeqpacket();
  const relay = createRelay([parentEnd], { udpIdleMs: 60_000, pipeSize: 0 }, () => {});
  const dir = mkdtempSync(join(tmpdir(), 'rootless-relay-'));
  const inside = createServer({ pauseOnConnect: true });
  const peers: Socket[] = [];
  inside.on('connection', (s: Socket) => {
    s.on('error', () => {});
    peers.push(s);
  });
  const hostPort = await port();
  let client: Socket | undefined;
  try {
    await new Promise<void>((res) => inside.listen(join(dir, 'inside.sock'), res));
    relayAdd(relay, 9, 'tcp', [listenSocket('tcp', '127.0.0.1', hostPort, -1, false)], '127.0.0.1', 1);
    client = connect({ port: hostPort, host: '127.0.0.1' });
    await once(client, 'connect');
    client.on('error', () => {});
    client.write(Buffer.alloc(8 << 20, 1)); // more than a pipe and a socket buffer hold
    // Play the child: take the worker's request, answer with a blocking socket.
    const req = recvFds(childEnd, 64, 30_000);
    t.truthy(req, 'the worker asked the child for a connection');
    const reply = Buffer.alloc(12);
    reply.writeUInt32LE(req!.data.readUInt32LE(0), 0);
    const blocking = connectUnix(join(dir, 'inside.sock'));
    sendFds(childEnd, reply, [blocking]);
    close(blocking);
    t.true(await eventually(() => workerInSplice(relay), 30_000), 'the worker blocks writing to the socket nobody reads');

    let read = false;
    const removed = relayRemove(relay, 9).then(() => read);
    if (peers.length === 0) await once(inside, 'connection');
    peers[0]!.on('data', () => {
      read = true;
    });
    peers[0]!.resume();
    t.true(await removed, 'resolved only after this event loop had read what the blocked worker was writing');
    const refused = await new Promise<string>((res) => {
      const d = connect(hostPort, '127.0.0.1');
      d.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
      d.on('connect', () => {
        d.destroy();
        res('connected');
      });
    });
    t.is(refused, 'ECONNREFUSED', 'the port no longer accepts');
  } finally {
    client?.destroy();
    for (const p of peers) p.destroy();
    await eventually(() => relayStats(relay).connsActive === 0);
    relayStop(relay);
    close(childEnd);
    inside.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tcp: 200 concurrent connections, two workers with SO_REUSEPORT', async (t) => {
  const r = rig(2);
  const inner = server((s) => s.pipe(s));
  inner.maxConnections = 1000;
  const childPort = await port();
  const hostPort = await port();
  await listen(inner, childPort);
  try {
    addTcp(r, 1, hostPort, childPort, '127.0.0.1', '127.0.0.1', 2);
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const c = connect(hostPort, '127.0.0.1');
        const got = readAll(c);
        const msg = `hello ${i} `.repeat(100);
        c.end(msg);
        return (await got).toString() === msg;
      }),
    );
    t.is(results.filter(Boolean).length, 200);
    const s = relayStats(r.relay);
    t.is(s.connsAccepted, 200);
    t.true(await eventually(() => relayStats(r.relay).connsActive === 0));
  } finally {
    r.stop();
    inner.close();
  }
});

test.serial('tcp: an idle relayed connection costs the relay its two sockets, no pipes', async (t) => {
  // Serial: the fds of this process are counted, no other test may open any.
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const r = rig();
  const inner = server((s) => s.pipe(s));
  inner.maxConnections = 1000;
  const childPort = await port();
  const hostPort = await port();
  await listen(inner, childPort);
  const conns: Socket[] = [];
  const open = async (): Promise<Socket> => {
    const c = connect(hostPort, '127.0.0.1');
    c.on('error', () => {});
    conns.push(c);
    await once(c, 'connect');
    c.write('x');
    await once(c, 'data');
    return c;
  };
  try {
    addTcp(r, 1, hostPort, childPort);
    await open(); // the worker's first connection: pool and buffers exist
    const before = fds();
    const N = 100;
    for (let i = 0; i < N; i++) await open();
    // Each: our client, the inner server's socket, the relay's two sockets;
    // a pipe per direction held for the connection's life would add four.
    const perConn = (fds() - before) / N;
    t.true(perConn <= 4.5, `${perConn} fds per idle connection`);
    // Pipes come back drained and serve the next bytes: 4 MiB each way on one.
    const c = conns[1]!;
    const payload = randomBytes(4 << 20);
    const got = readAll(c);
    c.end(payload);
    const echoed = await got;
    t.is(echoed.length, payload.length);
    t.true(echoed.equals(payload), 'the echo matches');
  } finally {
    for (const c of conns) c.destroy();
    r.stop();
    inner.close();
  }
});

test('tcp6: [::1] on the host to [::1] inside', async (t) => {
  const r = rig();
  const inner = server((s) => s.end('v6 ok'));
  const childPort = await port();
  const hostPort = await port();
  await listen(inner, childPort, '::1');
  try {
    addTcp(r, 1, hostPort, childPort, '::1', '::1');
    const c = connect(hostPort, '::1');
    t.is((await readAll(c)).toString(), 'v6 ok');
  } finally {
    r.stop();
    inner.close();
  }
});

function udpEcho(p: number): Promise<UdpSocket> {
  const s = createSocket('udp4');
  s.on('message', (m, from) => s.send(Buffer.concat([Buffer.from('echo:'), m]), from.port, from.address));
  return new Promise((res) => s.bind(p, '127.0.0.1', () => res(s)));
}

test('udp: per-client flows, replies to the right client, idle flows expire', async (t) => {
  // Flows idle for 2 s expire: long enough that none expires between the replies
  // and the count on a loaded machine, short enough to wait for.
  const r = rig(1, 2000);
  const childPort = await port();
  const hostPort = await port();
  const inner = await udpEcho(childPort);
  const clients: UdpSocket[] = [];
  try {
    relayAdd(r.relay, 1, 'udp', [listenSocket('udp', '127.0.0.1', hostPort, -1, false)], '127.0.0.1', childPort);
    for (let i = 0; i < 3; i++) {
      const c = createSocket('udp4');
      await new Promise<void>((res) => c.bind(0, '127.0.0.1', () => res()));
      clients.push(c);
    }
    const replies = await Promise.all(
      clients.map(async (c, i) => {
        const got = once(c, 'message');
        // The first datagram of a flow waits for the child's socket: queued, not lost.
        // Resent every 500 ms all the same (same flow), as a UDP client does, so a
        // datagram dropped under load does not hang the test.
        c.send(`client ${i}`, hostPort, '127.0.0.1');
        const resend = setInterval(() => c.send(`client ${i}`, hostPort, '127.0.0.1'), 500);
        try {
          const [m] = (await got) as [Buffer];
          return m.toString();
        } finally {
          clearInterval(resend);
        }
      }),
    );
    t.deepEqual(replies, ['echo:client 0', 'echo:client 1', 'echo:client 2']);
    t.is(relayStats(r.relay).flowsActive, 3);
    t.true(await eventually(() => relayStats(r.relay).flowsActive === 0, 60_000), 'idle flows are closed');
    t.is(relayStats(r.relay).flowsExpired, 3);
  } finally {
    r.stop();
    inner.close();
    for (const c of clients) c.close();
  }
});

test('stop resets open connections and closes every socket', async (t) => {
  const r = rig();
  const inner = server(() => {});
  const childPort = await port();
  const hostPort = await port();
  await listen(inner, childPort);
  try {
    addTcp(r, 1, hostPort, childPort);
    const c = connect(hostPort, '127.0.0.1');
    await once(c, 'connect');
    t.true(await eventually(() => relayStats(r.relay).connsActive === 1));
    const closed = new Promise<void>((res) => c.on('close', () => res()));
    c.on('error', () => {});
    r.stop();
    await closed;
    // The listener is gone with it.
    const again = await new Promise<string>((res) => {
      const d = connect(hostPort, '127.0.0.1');
      d.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
      d.on('connect', () => {
        d.destroy();
        res('connected');
      });
    });
    t.is(again, 'ECONNREFUSED');
  } finally {
    inner.close();
  }
});

test('udp: a burst of equal datagrams (sent as one GSO batch) arrives as the same separate datagrams', async (t) => {
  const r = rig();
  const childPort = await port();
  const hostPort = await port();
  // Room for the whole burst: this test is about boundaries, not loss.
  const inner = createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  const seen: Buffer[] = [];
  inner.on('message', (m) => seen.push(m));
  await new Promise<void>((res) => inner.bind(childPort, '127.0.0.1', () => res()));
  const client = createSocket('udp4');
  try {
    relayAdd(r.relay, 1, 'udp', [listenSocket('udp', '127.0.0.1', hostPort, -1, false)], '127.0.0.1', childPort);
    // First datagram sets the flow up; then a burst the relay reads in batches.
    client.send(Buffer.alloc(1000, 0), hostPort, '127.0.0.1');
    t.true(await eventually(() => seen.length === 1));
    const burst = Array.from({ length: 200 }, (_, i) => {
      const b = Buffer.alloc(i === 199 ? 333 : 1000, i % 251);
      b.writeUInt32BE(i, 0);
      return b;
    });
    for (const b of burst) client.send(b, hostPort, '127.0.0.1');
    t.true(await eventually(() => seen.length >= 201, 5000), `got ${seen.length}`);
    const got = seen.slice(1);
    t.deepEqual(got.map((m) => m.readUInt32BE(0)), burst.map((_, i) => i));
    t.true(got.every((m, i) => m.equals(burst[i]!)), 'same bytes, same boundaries');
  } finally {
    r.stop();
    inner.close();
    client.close();
  }
});
