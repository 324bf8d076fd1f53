// Host-side clients and servers for the end-to-end tests, and host ports
// taken from the kernel. Every promise here settles on a socket event
// (connect, data, end, close, error), never on a timer, except UDP's resend.
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Everything a socket reads until EOF. */
export function readAll(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((res, rej) => {
    s.on('end', () => res(Buffer.concat(chunks)));
    s.on('error', rej);
  });
}

/** One request/response over a fresh TCP connection: writes `data`, half-closes, reads until EOF. */
export function exchange(port: number, host: string, data: string | Buffer): Promise<Buffer> {
  const c = connect({ port, host, allowHalfOpen: true });
  const got = readAll(c);
  c.end(data);
  return got;
}

/** What a connection attempt ends in: 'connected', or the error code (ECONNREFUSED, ...). */
export function connectOutcome(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((res) => {
    const c = connect(port, host);
    c.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
    c.on('connect', () => {
      c.destroy();
      res('connected');
    });
  });
}

/** Nothing listens on the port: connect is refused. */
export async function refused(port: number, host = '127.0.0.1'): Promise<boolean> {
  return (await connectOutcome(port, host)) === 'ECONNREFUSED';
}

/**
 * One UDP request/reply. Datagrams may be lost (the first of a flow may race
 * the flow's setup on a loaded machine): resend every 500 ms, as any UDP
 * client would, up to `tries` times.
 */
export async function udpExchange(port: number, host: string, msg: string, tries = 40): Promise<string> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    const reply = new Promise<string>((res) => s.once('message', (m: Buffer) => res(m.toString())));
    for (let i = 0; i < tries; i++) {
      s.send(msg, port, host);
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([reply, new Promise<undefined>((res) => (timer = setTimeout(res, 500, undefined)))]);
      clearTimeout(timer);
      if (r !== undefined) return r;
    }
    throw new Error(`no UDP reply from ${host}:${port}`);
  } finally {
    s.close();
  }
}

// --- host ports from the kernel ----------------------------------------------

function listenTcp(port: number): Promise<Server | undefined> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(undefined));
    // '::' without ipv6Only: the port is free on every address of both families.
    s.listen({ port, host: '::', ipv6Only: false, exclusive: true }, () => res(s));
  });
}

function bindUdp(port: number): Promise<UdpSocket | undefined> {
  return new Promise((res) => {
    const u = createSocket({ type: 'udp6', ipv6Only: false });
    u.once('error', () => {
      u.close();
      res(undefined);
    });
    u.bind({ port, address: '::', exclusive: true }, () => res(u));
  });
}

/**
 * `n` distinct host ports that are free for TCP and UDP on every address,
 * chosen by the kernel (bind port 0). They are released before this returns,
 * so another process may take one before the launcher binds it: callers that
 * publish them go through `withPorts`, which retries on "already in use".
 */
export async function freePorts(n: number): Promise<number[]> {
  const held: (Server | UdpSocket)[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < n) {
      const tcp = await listenTcp(0);
      if (!tcp) throw new Error('cannot bind a TCP port on [::]');
      held.push(tcp);
      const port = (tcp.address() as { port: number }).port;
      const udp = await bindUdp(port);
      if (!udp) continue; // taken for UDP: keep the TCP one held so it is not offered again
      held.push(udp);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((h) => new Promise<void>((res) => (h as { close(cb: () => void): void }).close(() => res()))));
  }
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/** What the launcher (or a helper of it, or the API) says when a host port is taken. */
export const PORT_CLASH = /already in use|EADDRINUSE|Failed to bind any port/i;

/** `text` says that one of `ports` is taken on the host. */
export function clashOn(text: string, ports: readonly number[]): boolean {
  return PORT_CLASH.test(text) && ports.some((p) => new RegExp(`\\b${p}\\b`).test(text));
}

/** Thrown by an attempt of `withPorts` when a host port it was given turned out to be taken. */
export class PortClash extends Error {}

/**
 * Runs `attempt` with `n` free host ports; when it throws PortClash (another
 * process took a port between the kernel handing it out and the launcher
 * binding it), tries again with fresh ports, up to 5 times.
 */
export async function withPorts<T>(n: number, attempt: (ports: number[]) => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    const ports = await freePorts(n);
    try {
      return await attempt(ports);
    } catch (err) {
      if (!(err instanceof PortClash) || i >= 5) throw err;
    }
  }
}
