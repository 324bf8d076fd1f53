// A client for test/e2e/srcip.test.ts, run in the test's own network
// namespace (`ip netns exec NS node peer-client.js JSON`), so that it is a
// remote peer of the host. JSON: [{proto: 'tcp'|'udp', host, port, bind?,
// send?}], all run at once. Prints a JSON array, one entry per request, in
// order: {local: "ADDR PORT", reply} or {error: CODE}. A TCP client sends
// `send` (if any), half-closes, and reads to EOF.
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';

interface Req {
  proto: 'tcp' | 'udp';
  host: string;
  port: number;
  bind?: string;
  send?: string;
}
interface Res {
  local?: string;
  reply?: string;
  error?: string;
}

async function tcp(r: Req): Promise<Res> {
  const c = connect({ host: r.host, port: r.port, allowHalfOpen: true, ...(r.bind ? { localAddress: r.bind } : {}) });
  const chunks: Buffer[] = [];
  c.on('data', (d: Buffer) => chunks.push(d));
  try {
    await once(c, 'connect');
    const local = `${c.localAddress} ${c.localPort}`;
    c.end(r.send ?? '');
    await once(c, 'end');
    c.destroy();
    return { local, reply: Buffer.concat(chunks).toString() };
  } catch (err) {
    c.destroy();
    return { error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

async function udp(r: Req): Promise<Res> {
  const s = createSocket(r.host.includes(':') ? 'udp6' : 'udp4');
  s.bind(0, r.bind);
  await once(s, 'listening');
  const local = `${s.address().address} ${s.address().port}`;
  try {
    // The first datagram of a flow may race the flow's setup: retry, as
    // any UDP client would.
    const reply = new Promise<string>((res) => s.once('message', (m: Buffer) => res(m.toString())));
    for (let i = 0; i < 40; i++) {
      s.send(r.send ?? 'x', r.port, r.host);
      const got = await Promise.race([reply, new Promise<undefined>((res) => setTimeout(res, 500, undefined))]);
      if (got !== undefined) return { local, reply: got };
    }
    return { local, error: 'ETIMEDOUT' };
  } finally {
    s.close();
  }
}

const reqs = JSON.parse(process.argv[2] ?? '[]') as Req[];
const out = await Promise.all(reqs.map((r) => (r.proto === 'tcp' ? tcp(r) : udp(r))));
process.stdout.write(JSON.stringify(out));
