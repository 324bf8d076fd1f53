// Typed binding to addon/net.cc.
import { loadAddon, wrap } from './addon.js';

interface NetAddon {
  setLinkUp(ifname: string): void;
  createDetachedNetns(path: string): void;
  mkfifo(path: string, mode: number): void;
}

const addon = loadAddon<NetAddon>();

/** Sets IFF_UP on an interface of the calling thread's network namespace. */
export const setLinkUp = wrap(addon.setLinkUp);

/** Creates a network namespace (lo up) bound on `path`, an existing file,
 * without moving this process into it. */
export const createDetachedNetns = wrap(addon.createDetachedNetns);

/** Creates a FIFO (named pipe). */
export const mkfifo = wrap(addon.mkfifo);
