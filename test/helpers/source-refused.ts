// For test/unit/port-source.test.ts: the connector asked to keep client
// addresses where the kernel refuses the setup. Run as an unprivileged user
// in the host's namespaces (never as root: the setup would then succeed and
// change the host's routing), it must report one warning and still relay,
// from the loopback address. Prints JSON {status, seen, local}.
import { createServer, connect, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { readFileSync, readlinkSync } from 'node:fs';
import { SOURCE_KEEP, createRelay, listenSocket, relayAdd, relayStop, socketpairSeqpacket, startConnector } from '../../src/sys/native.js';

if (process.geteuid?.() === 0) throw new Error('source-refused must not run as root: it would set up the host namespace');

function boundPort(fd: number): number {
  const inode = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[9] === inode) return parseInt((f[1] ?? '').split(':')[1] ?? '', 16);
  }
  throw new Error('listening socket not found');
}

const [a, b] = socketpairSeqpacket();
const relay = createRelay([a], { udpIdleMs: 60_000, pipeSize: 0 }, () => {});
const status = startConnector([b], 30_000, undefined, SOURCE_KEEP);
const seen: string[] = [];
const inner = createServer((s) => {
  seen.push(`${s.remoteAddress} ${s.remotePort}`);
  s.end('x');
});
inner.listen(0, '127.0.0.1');
await once(inner, 'listening');
const fd = listenSocket('tcp', '127.0.0.1', 0, -1, false);
relayAdd(relay, 1, 'tcp', [fd], '127.0.0.1', (inner.address() as AddressInfo).port);
const c = connect({ port: boundPort(fd), host: '127.0.0.1', localAddress: '127.0.0.2' });
await once(c, 'connect');
const local = `${c.localAddress} ${c.localPort}`;
c.resume();
await once(c, 'end');
c.destroy();
inner.close();
relayStop(relay);
process.stdout.write(JSON.stringify({ status, seen: seen[0], local }));
