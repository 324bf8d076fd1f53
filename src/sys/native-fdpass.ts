// Typed binding to addon/fdpass.cc: descriptors over unix sockets
// (SCM_RIGHTS), which Node's net module cannot pass. For the session socket.
import { loadAddon, wrap } from './addon.js';

export interface Received {
  /** Empty: the peer's EOF. */
  data: Buffer;
  /** Close-on-exec; the receiver owns them. */
  fds: number[];
}

interface FdPassAddon {
  connectUnix(path: string): number;
  sendFds(sock: number, data: Buffer, fds: number[]): void;
  recvFds(sock: number, maxBytes: number, timeoutMs: number): Received | null;
}

const addon = loadAddon<FdPassAddon>();

/** A blocking, close-on-exec stream connection to a unix socket. */
export const connectUnix = wrap(addon.connectUnix);
/** Sends all of data (blocking), the fds (at most 8) attached to its first byte. */
export const sendFds = wrap(addon.sendFds);
/** Waits up to timeoutMs for data, then takes what is there and the fds that came with it; null on timeout. */
export const recvFds = wrap(addon.recvFds);
