// A target for the port tests, run inside the namespace:
//   node port-target.js tcp-echo:80 udp-echo:53 count:81 hold:82 ...
// tcp-echo: echoes; count: reads to EOF, then answers "<bytes> <sha256>"
// (a half-close test); hold: accepts and answers "hello", never closes;
// source: sends 64 MiB of port-data.ts's deterministic bytes, then EOF;
// udp-echo: echoes datagrams; tcp-peer / udp-peer: answer the peer's
// address and port as the server sees it ("198.18.0.2 40000", IPv4-mapped
// addresses unmapped), then close. All on [::] (both families). Prints "ready"
// when everything listens; exits on SIGTERM.
import { createServer, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { createHash } from 'node:crypto';
import { SOURCE_BLOCKS, deterministicBlock } from './port-data.js';

const unmap = (a: string): string => a.replace(/^::ffff:(?=\d+\.)/, '');

const kinds: Record<string, (s: Socket) => void> = {
  'tcp-echo': (s) => s.pipe(s),
  count: (s) => {
    const h = createHash('sha256');
    let n = 0;
    s.on('data', (d: Buffer) => {
      n += d.length;
      h.update(d);
    });
    s.on('end', () => s.end(`${n} ${h.digest('hex')}`));
  },
  hold: (s) => s.write('hello'),
  'tcp-peer': (s) => {
    s.resume();
    s.end(`${unmap(s.remoteAddress ?? '')} ${s.remotePort ?? 0}`);
  },
  source: (s) => {
    // 64 MiB of deterministicBytes(), then EOF, written as fast as the peer reads.
    let i = 0;
    const more = (): void => {
      while (i < SOURCE_BLOCKS) {
        if (!s.write(deterministicBlock(i++))) {
          s.once('drain', more);
          return;
        }
      }
      s.end();
    };
    more();
  },
};

const waits: Promise<void>[] = [];
for (const arg of process.argv.slice(2)) {
  const [kind, portText] = arg.split(':');
  const port = Number(portText);
  if (kind === 'udp-echo') {
    const u = createSocket({ type: 'udp6', ipv6Only: false });
    u.on('message', (m, from) => u.send(m, from.port, from.address));
    waits.push(new Promise((res) => u.bind(port, '::', () => res())));
    continue;
  }
  if (kind === 'udp-peer') {
    const u = createSocket({ type: 'udp6', ipv6Only: false });
    u.on('message', (_m, from) => u.send(`${unmap(from.address)} ${from.port}`, from.port, from.address));
    waits.push(new Promise((res) => u.bind(port, '::', () => res())));
    continue;
  }
  const handler = kinds[kind ?? ''];
  if (handler === undefined) throw new Error(`unknown server ${arg}`);
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    handler(s);
  });
  server.maxConnections = 10_000;
  waits.push(new Promise((res) => server.listen({ port, host: '::', ipv6Only: false, backlog: 1024 }, () => res())));
}
await Promise.all(waits);
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
