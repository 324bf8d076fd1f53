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
}

interface PortAddon {
  createRelay(controlFds: number[], opts: RelayOptions, onError: (msg: string) => void): number;
  relayAdd(relay: number, portId: number, proto: 'tcp' | 'udp', fds: number[], childIP: string, childPort: number): void;
  relayRemove(relay: number, portId: number): void;
  relayStats(relay: number): RelayStats;
  relayStop(relay: number): void;
  listenSocket(proto: 'tcp' | 'udp', ip: string, port: number, v6only: -1 | 0 | 1, reusePort: boolean): number;
  socketpairSeqpacket(): [number, number];
  startConnector(controlFds: number[], connectTimeoutMs?: number, netnsPath?: string): void;
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
