// Typed binding to addon/port.cc: the builtin port driver's data plane
// (see the design comment at the top of addon/port.cc).
import { loadAddon, wrap } from './addon.js';

export interface RelayOptions {
  /** UDP flows with no datagram either way for this long are closed. */
  udpIdleMs: number;
  /** F_SETPIPE_SZ for the splice pipes (0: the kernel's default). */
  pipeSize: number;
}

export interface RelayStats {
  connsAccepted: number;
  connsActive: number;
  /** The child's connect failed (nothing listening inside): host side reset. */
  connsRefused: number;
  connsAborted: number;
  flowsActive: number;
  flowsExpired: number;
  udpIn: number;
  udpOut: number;
  udpDropped: number;
  /** Connections and UDP flows made inside from the client's address, and not. */
  sourceKept: number;
  sourceNotKept: number;
  /** The child's source-address setup, once it has reported it. */
  source?: SourceStatus;
}

/** What the connector could set up to keep clients' addresses. */
export interface SourceStatus {
  on: boolean;
  ipv6: boolean;
  udp: boolean;
  /** Why (part of) it is off: the kernel refused a step. */
  warning?: string;
}

/** startConnector's sourceMode. */
export const SOURCE_OFF = 0;
export const SOURCE_KEEP = 1;
/** Loopback clients only, no routing set up: for tests outside a namespace. */
export const SOURCE_LOOPBACK_ONLY = 2;

interface PortAddon {
  createRelay(controlFds: number[], opts: RelayOptions, onError: (msg: string) => void): number;
  relayAdd(relay: number, portId: number, proto: 'tcp' | 'udp', fds: number[], childIP: string, childPort: number): void;
  relayRemove(relay: number, portId: number): void;
  relayStats(relay: number): RelayStats;
  relayStop(relay: number): void;
  listenSocket(proto: 'tcp' | 'udp', ip: string, port: number, v6only: -1 | 0 | 1, reusePort: boolean): number;
  socketpairSeqpacket(): [number, number];
  startConnector(controlFds: number[], connectTimeoutMs?: number, netnsPath?: string, sourceMode?: number): SourceStatus;
  encodeNetlink(kind: 'rule' | 'route', add: boolean, spec: NetlinkSpec): Buffer;
}

const addon = loadAddon<PortAddon>();

/** Parent: starts one relay worker per control socket (the parent's ends). */
export const createRelay = wrap(addon.createRelay);
/** Hands listening/bound sockets (one per worker) to the workers; they own them now. */
export const relayAdd = wrap(addon.relayAdd);
/** Closes the port's sockets; returns once nothing more is accepted on it. */
export const relayRemove = wrap(addon.relayRemove);
export const relayStats = wrap(addon.relayStats);
/** Ends the workers; open connections are reset, every fd closed. */
export const relayStop = wrap(addon.relayStop);
/** A non-blocking, close-on-exec socket bound (and listening, for TCP) on
 * ip:port. v6only: -1 leaves the system default. Throws SyscallError
 * (EADDRINUSE, EADDRNOTAVAIL...) naming the address. */
export const listenSocket = wrap(addon.listenSocket);
export const socketpairSeqpacket = wrap(addon.socketpairSeqpacket);
/** Child: serves connect requests on these control sockets, in a native
 * thread (which enters netnsPath first, if given: --detach-netns). */
export const startConnector = wrap(addon.startConnector);

/** What the connector asks rtnetlink for (addon/netlink.cc), for unit tests. */
export interface NetlinkSpec {
  family: 4 | 6;
  table: number;
  priority?: number;
  fwmark?: number;
  ipproto?: number;
  sport?: number;
  /** route: destination address (absent: default) and preferred source. */
  dst?: string;
  prefsrc?: string;
}
export const encodeNetlink = wrap(addon.encodeNetlink);
