// The slirp4netns port driver: slirp4netns itself listens on the host and
// forwards into the namespace's tap address, told so through its API socket
// (--api-socket; JSON add_hostfwd / remove_hostfwd / list_hostfwd, one
// request per connection). IPv4 only, like slirp4netns's hostfwd; the
// source address of a client is kept (unlike the builtin driver).
import { connect } from 'node:net';
import { close, listenSocket } from '../../sys/native.js';
import { PortError, PortManager, type OpenPort, type PortDriverInfo } from '../manager.js';
import { baseProto, formatPortSpec, ipFamily, type PortSpec } from '../spec.js';
import { hostSocketError } from '../builtin/parent.js';
import { RootlessError } from '../../sys/errors.js';
import type { PortParentDriver } from '../driver.js';
import { noPrep, publishAll } from '../session.js';

export const driver: PortParentDriver = {
  name: 'slirp4netns',
  check: () => {},
  prepare: async () => noPrep(),
  async start(plan, ctx) {
    const api = slirp4netnsApi(ctx.fromNetwork);
    if (api === undefined) {
      throw new RootlessError('--port-driver=slirp4netns: the network driver has no slirp4netns API socket', { step: 'port driver' });
    }
    return publishAll(new Slirp4netnsDriver(api.apiSocket, api.childIP), plan, ctx.log, { driver: 'slirp4netns' });
  },
};

/**
 * What --net=slirp4netns hands this driver (NetworkSession.forPorts): its
 * API socket and the guest's address; undefined for anything else.
 */
export function slirp4netnsApi(fromNetwork: unknown): { apiSocket: string; childIP?: string } | undefined {
  if (typeof fromNetwork !== 'object' || fromNetwork === null) return undefined;
  const { apiSocket, childIP } = fromNetwork as Record<string, unknown>;
  if (typeof apiSocket !== 'string') return undefined;
  return typeof childIP === 'string' ? { apiSocket, childIP } : { apiSocket };
}

const REPLY_LIMIT = 1 << 20;
const TIMEOUT_MS = 10_000;

interface SlirpReply {
  return?: { id?: number; entries?: unknown[] };
  error?: { desc?: string };
}

/** One request on slirp4netns's API socket. */
export function slirpRequest(socketPath: string, execute: string, args: Record<string, unknown>): Promise<SlirpReply> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => s.destroy(new Error(`no answer from slirp4netns in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    s.on('connect', () => s.end(JSON.stringify({ execute, arguments: args })));
    s.on('data', (d: Buffer) => {
      size += d.length;
      if (size > REPLY_LIMIT) s.destroy(new Error('slirp4netns answered too much'));
      else chunks.push(d);
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    s.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as SlirpReply);
      } catch {
        reject(new Error(`slirp4netns answered ${JSON.stringify(Buffer.concat(chunks).toString('utf8').slice(0, 200))}`));
      }
    });
  });
}

const isLoopback = (ip: string): boolean => ip === '::1' || /^127\./.test(ip);

export class Slirp4netnsDriver extends PortManager {
  readonly info: PortDriverInfo = { driver: 'slirp4netns', protos: ['tcp', 'tcp4', 'udp', 'udp4'], disallowLoopbackChildIP: true };

  constructor(
    private readonly apiSocket: string,
    /** The namespace's tap address (e.g. 10.0.2.100): the default child IP. */
    private readonly childIP: string | undefined,
  ) {
    super();
  }

  protected override check(spec: PortSpec): void {
    super.check(spec);
    const text = formatPortSpec(spec);
    if (spec.childIP !== undefined && isLoopback(spec.childIP)) {
      throw new PortError(`${text}: the slirp4netns port driver cannot reach a loopback child IP (use the namespace's address${this.childIP ? `, ${this.childIP}` : ''}, or --port-driver=builtin)`, text);
    }
    if (spec.parentIP !== '' && ipFamily(spec.parentIP) === 6) {
      throw new PortError(`${text}: the slirp4netns port driver forwards IPv4 only`, text);
    }
  }

  protected async open(spec: PortSpec): Promise<OpenPort> {
    const text = formatPortSpec(spec);
    const proto = baseProto(spec.proto);
    const args: Record<string, unknown> = {
      proto,
      host_addr: spec.parentIP === '' ? '0.0.0.0' : spec.parentIP,
      host_port: spec.parentPort,
      guest_port: spec.childPort,
    };
    const guest = spec.childIP ?? this.childIP;
    if (guest !== undefined && guest !== '') args.guest_addr = guest;
    let reply: SlirpReply;
    try {
      reply = await slirpRequest(this.apiSocket, 'add_hostfwd', args);
    } catch (err) {
      throw new PortError(`${text}: slirp4netns API: ${(err as Error).message}`, text);
    }
    const id = reply.return?.id;
    if (typeof id !== 'number') {
      // slirp4netns says only "slirp_add_hostfwd failed": find out why.
      const inUse = hostPortProblem(spec, args.host_addr as string, proto as 'tcp' | 'udp');
      if (inUse) throw inUse;
      throw new PortError(`${text}: slirp4netns refused it: ${reply.error?.desc ?? JSON.stringify(reply)}`, text);
    }
    return {
      close: async () => {
        await slirpRequest(this.apiSocket, 'remove_hostfwd', { id }).catch(() => {});
      },
    };
  }
}

/** The bind error slirp4netns does not report, by trying the bind here. */
function hostPortProblem(spec: PortSpec, ip: string, proto: 'tcp' | 'udp'): PortError | undefined {
  try {
    close(listenSocket(proto, ip, spec.parentPort, -1, false));
    return undefined;
  } catch (err) {
    return hostSocketError(spec, err);
  }
}
