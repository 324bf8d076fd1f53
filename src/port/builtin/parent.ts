// The builtin port driver, parent half: host sockets, handed to the native
// relay (addon/port/relay.h), which asks the child for the connection inside the
// namespace and splices the two. See DESIGN.md "Port forwarding data plane".
//
// Parent <-> child: one SOCK_SEQPACKET socketpair per relay worker, made
// before the clone and passed to the child as inherited fds. A socketpair
// rather than a socket file in the state dir: nothing to bind, nothing
// another process could connect to, no path length limit, and it closes
// itself when either side dies.
import type { Logger } from '../../sys/log.js';
import { SyscallError } from '../../sys/errors.js';
import {
  close, createRelay, listenSocket, relayAdd, relayRemove, relayStats, relayStop, socketpairSeqpacket, type RelayStats,
} from '../../sys/native.js';
import { PortError, PortManager, type OpenPort, type PortDriverInfo } from '../manager.js';
import { baseProto, formatPortSpec, parentAddress, protoFamily, type PortSpec } from '../spec.js';
import { RootlessError } from '../../sys/errors.js';
import type { PortParentDriver, PortPrep } from '../driver.js';
import { publishAll } from '../session.js';

export const BUILTIN_PROTOS = ['tcp', 'tcp4', 'tcp6', 'udp', 'udp4', 'udp6'];

/** The control sockets, made before the clone. */
export interface BuiltinPrep {
  parentFds: number[];
  /** Passed to the child (spawnChild's extraFds), closed here after the clone. */
  childFds: number[];
}

export function prepareBuiltin(workers: number): BuiltinPrep {
  const prep: BuiltinPrep = { parentFds: [], childFds: [] };
  for (let i = 0; i < workers; i++) {
    const [a, b] = socketpairSeqpacket();
    prep.parentFds.push(a);
    prep.childFds.push(b);
  }
  return prep;
}

export interface BuiltinOptions {
  /** UDP flows idle this long are closed (RootlessKit: 60-90 s). */
  udpIdleMs: number;
  pipeSize: number;
  /** The child keeps clients' addresses (if its kernel lets it). */
  sourceIPTransparent: boolean;
}

const isLoopback = (ip: string): boolean => ip === '::1' || /^127\./.test(ip);
const isWildcard = (ip: string): boolean => ip === '' || ip === '0.0.0.0' || ip === '::';

/** Where the host socket binds. Like RootlessKit (Go's net.Listen): a
 * wildcard with plain tcp/udp is dual-stack. */
function hostBinding(spec: PortSpec): { ip: string; v6only: -1 | 0 | 1 } {
  const fam = protoFamily(spec.proto);
  if (isWildcard(spec.parentIP)) {
    if (fam === 4) return { ip: '0.0.0.0', v6only: -1 };
    return { ip: '::', v6only: fam === 6 ? 1 : 0 };
  }
  return { ip: spec.parentIP, v6only: -1 };
}

/** Where the child connects. The spec's child IP; else the same loopback
 * the host side uses; else ::1 for an IPv6-only spec; else 127.0.0.1. */
export function builtinChildIP(spec: PortSpec): string {
  if (spec.childIP !== undefined && spec.childIP !== '') return spec.childIP;
  if (isLoopback(spec.parentIP)) return spec.parentIP;
  const v6 = protoFamily(spec.proto) === 6 || (spec.parentIP.includes(':') && !isWildcard(spec.parentIP));
  return v6 ? '::1' : '127.0.0.1';
}

export class BuiltinDriver extends PortManager {
  private readonly relay: number;
  private readonly workers: number;
  private readonly sourceIPTransparent: boolean;

  constructor(prep: BuiltinPrep, opts: BuiltinOptions, log: Logger) {
    super();
    this.workers = prep.parentFds.length;
    this.sourceIPTransparent = opts.sourceIPTransparent;
    // A worker loses its control socket only when the child is gone, which
    // the launcher notices by itself: log, do not race its exit handling.
    this.relay = createRelay(prep.parentFds, opts, (msg) => log.debug({ msg }, 'port relay'));
  }

  protected async open(spec: PortSpec, id: number): Promise<OpenPort> {
    const proto = baseProto(spec.proto) as 'tcp' | 'udp';
    const fds: number[] = [];
    try {
      let bind = hostBinding(spec);
      for (let i = 0; i < this.workers; i++) {
        try {
          fds.push(listenSocket(proto, bind.ip, spec.parentPort, bind.v6only, this.workers > 1));
        } catch (err) {
          // No IPv6 on this host: a dual-stack wildcard falls back to IPv4.
          if (i === 0 && bind.v6only === 0 && err instanceof SyscallError && err.code === 'EAFNOSUPPORT') {
            bind = { ip: '0.0.0.0', v6only: -1 };
            i--;
            continue;
          }
          throw err;
        }
      }
    } catch (err) {
      for (const fd of fds) close(fd);
      throw hostSocketError(spec, err);
    }
    relayAdd(this.relay, id, proto, fds, builtinChildIP(spec), spec.childPort);
    return { close: async () => relayRemove(this.relay, id) };
  }

  get info(): PortDriverInfo {
    const info: PortDriverInfo = { driver: 'builtin', protos: BUILTIN_PROTOS };
    // The child's answer comes first on the control socket, before the
    // target starts; off means off at once.
    const kept = this.sourceIPTransparent ? relayStats(this.relay).source?.on : false;
    if (kept !== undefined) info.sourceIPTransparent = kept;
    return info;
  }

  stats(): RelayStats {
    return relayStats(this.relay);
  }

  protected override async shutdown(): Promise<void> {
    relayStop(this.relay);
  }
}

export function hostSocketError(spec: PortSpec, err: unknown): PortError {
  const text = formatPortSpec(spec);
  const where = parentAddress(spec);
  if (err instanceof SyscallError) {
    const why: Record<string, string> = {
      EADDRINUSE: `${where}/${baseProto(spec.proto)} is already in use on the host`,
      EADDRNOTAVAIL: `${spec.parentIP} is not an address of this host`,
      EACCES: `port ${spec.parentPort} is privileged on the host (below net.ipv4.ip_unprivileged_port_start)`,
    };
    return new PortError(`${text}: ${why[err.code ?? ''] ?? err.message}`, text, err.code);
  }
  return new PortError(`${text}: ${String(err)}`, text);
}

/** Relay workers (connections are spread by SO_REUSEPORT). */
function builtinWorkers(): number {
  const n = Number(process.env.ROOTLESS_PORT_WORKERS ?? '');
  return Number.isInteger(n) && n >= 1 && n <= 16 ? n : 1;
}

function closeAll(fds: number[]): void {
  for (const fd of fds.splice(0)) close(fd);
}

/** The control sockets, on their way to the child and to the relay. */
class BuiltinPortPrep implements PortPrep {
  readonly childFds: readonly number[];
  childFdNumbers: readonly number[] = [];
  private claimed = false;

  constructor(readonly sockets: BuiltinPrep) {
    this.childFds = [...sockets.childFds];
  }

  cloned(numbers: readonly number[]): void {
    this.childFdNumbers = numbers;
    closeAll(this.sockets.childFds);
  }

  /** The relay took the parent's ends over. */
  claim(): void {
    this.claimed = true;
  }

  discard(): void {
    closeAll(this.sockets.childFds);
    if (!this.claimed) closeAll(this.sockets.parentFds);
  }
}

export const driver: PortParentDriver = {
  name: 'builtin',
  check: () => {},
  prepare: async () => new BuiltinPortPrep(prepareBuiltin(builtinWorkers())),
  async start(plan, ctx, prep) {
    if (!(prep instanceof BuiltinPortPrep)) throw new RootlessError('internal: the builtin port driver was not prepared before the clone', { step: 'port driver' });
    const relay = new BuiltinDriver(prep.sockets, { udpIdleMs: 60_000, pipeSize: 256 << 10, sourceIPTransparent: plan.sourceIPTransparent }, ctx.log);
    prep.claim();
    return publishAll(relay, plan, ctx.log, {
      driver: 'builtin', controlFds: [...prep.childFdNumbers], sourceIPTransparent: plan.sourceIPTransparent,
      // --detach-netns: the child stays in the host's namespace; its
      // connector enters the detached one.
      ...(ctx.netnsPath !== undefined ? { netns: ctx.netnsPath } : {}),
    });
  },
};
